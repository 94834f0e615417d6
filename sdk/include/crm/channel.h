/*
 * crm/channel.h - the API of an alert channel plugin (CRM_KIND_CHANNEL):
 * something that carries one rendered notification to people (e-mail, a
 * WeCom robot or application, a webhook, a console).
 *
 * The host owns everything about an alert (when it fires, who receives it,
 * when it is retried or escalated); a channel only delivers one message and
 * says what happened:
 *   OK                 delivered to every recipient, or to some of them
 *                      (the failed ones are marked in the result: partial);
 *   RETRIABLE          nothing delivered, try again later (result's
 *                      retry_after_ms says when, 0 = the host's backoff);
 *   CONFIG or DATA     permanent: the same message will never go through
 *                      (bad address, message refused, bad credentials);
 *   FATAL              the channel cannot go on: the host marks the message
 *                      dead with the reason and sends nothing more through
 *                      this channel for the rest of the process.
 * Which alerts reach a channel is the host's routing (alerts.routes): a route
 * without "levels" takes every alert, rule signals (level "signal") included.
 * The host writes each notification to its outbox before it calls send and
 * marks it after, so a crash may repeat a send: channels that can
 * deduplicate use the message's idempotency_key (an e-mail Message-ID, the
 * WeCom duplicate check, a webhook header).
 *
 * Since: 1.1 for everything in this header, except the per-recipient limits
 * of crm_channel_api (1.3), hidden when CRM_TARGET_ABI_MINOR is older (see
 * crm/abi.h).
 */
#ifndef CRM_CHANNEL_H
#define CRM_CHANNEL_H

#include "crm/abi.h"
#include "crm/host.h"
#include "crm/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Severity of a notification. */
typedef uint32_t crm_severity;
#define CRM_SEVERITY_INFO ((crm_severity)1)
#define CRM_SEVERITY_WARNING ((crm_severity)2)
#define CRM_SEVERITY_CRITICAL ((crm_severity)3)

/* A link shown with a message (to the customer view, the runbook). */
typedef struct crm_link {
  crm_str label;
  crm_str url;
} crm_link;

/*
 * One rendered notification. Host-owned, borrowed for the call.
 */
typedef struct crm_channel_message {
  /* sizeof(crm_channel_message) as compiled into the host. */
  uint32_t struct_size;
  crm_severity severity;
  /* Stable for every attempt of this notification: deduplicate on it. */
  crm_str idempotency_key;
  /* One line, UTF-8, no markup. */
  crm_str title;
  /* Plain-text body, UTF-8. */
  crm_str text;
  /* The same body in the Markdown subset of the channels (headings, bold, links). */
  crm_str markdown;
  /* Recipients in the channel's own terms (addresses, user ids); may be empty. */
  const crm_str* recipients;
  size_t recipient_count;
  const crm_link* links;
  size_t link_count;
  /* When the alert behind the message was raised, ms since the epoch. */
  int64_t created_ms;
  /* What happened to the alert: "opened", "reminder", "escalated" or "resolved". */
  crm_str event;
  /* The alert's labels as one JSON object of strings (customer_id, reason, level...), for
   * channels that carry structured data (webhooks); "{}" when none. */
  crm_str labels_json;
} crm_channel_message;

/*
 * What a send did, filled by the channel. Host-owned; the host has zeroed it.
 */
typedef struct crm_channel_result {
  /* sizeof(crm_channel_result) as compiled into the host. */
  uint32_t struct_size;
  /* recipient_count flags: set recipient_failed[i] to 1 when recipient i was refused. */
  uint8_t* recipient_failed;
  /* With RETRIABLE: wait at least this long before the next attempt (0: the host decides). */
  int64_t retry_after_ms;
} crm_channel_result;

/*
 * crm_on_send: delivers one message.
 * Returns: OK (all or some recipients, see recipient_failed); RETRIABLE;
 *          CONFIG / DATA (permanent, say why without any secret);
 *          CANCELLED; FATAL (the host stops using the channel, see above).
 * Required: yes.  Threading: one call per instance at a time unless the
 * plugin declares CRM_CAP_THREAD_SAFE.
 */
typedef crm_status (*crm_on_send_fn)(crm_plugin_instance* instance, const crm_host* host,
                                     const crm_channel_message* message, crm_channel_result* result, crm_error* error);

/*
 * The channel's API table; the descriptor's kind_api points at one.
 * Plugin-owned, static.
 */
typedef struct crm_channel_api {
  /* sizeof(crm_channel_api) as compiled into the plugin. Required. */
  uint32_t struct_size;
  /* Largest message body the channel carries, in bytes (0: no limit). The
   * host splits or digests longer ones; the channel still must not cut a
   * UTF-8 character if it truncates. */
  uint32_t max_message_bytes;
  /* Messages the channel may send per minute (0: no limit); the host paces to it. */
  uint32_t messages_per_minute;
  /* Required. */
  crm_on_send_fn send;
#if CRM_TARGET_ABI_MINOR >= 3
  /*
   * Per-recipient limits (Since: 1.3), for services that accept more than
   * the limit and drop the excess without saying so (WeCom application
   * messages: 30 a minute and 1,000 an hour from one app to one member).
   *
   * recipient_messages_per_minute: messages the channel may carry to one
   *   recipient in any 60 seconds (a sliding window), 0: no limit.
   * recipient_messages_per_hour: the same over any 3,600 seconds, 0: no limit.
   *
   * What the host does: it counts, per channel and per recipient (recipients
   * compared case-insensitively, ASCII), the messages this channel carried
   * in the last minute and hour, from its outbox (a digest counts once, for
   * every recipient it went to). A notification whose recipient is at either
   * limit is held, never dropped, at every level (red included), until the
   * window allows; notifications held for the same recipients leave together
   * as one digest. The channel's messages_per_minute still applies on top.
   * A channel built for an older minor (or leaving both 0) is not paced per
   * recipient: the host reads a table smaller than this as zeros.
   */
  uint32_t recipient_messages_per_minute;
  uint32_t recipient_messages_per_hour;
#endif
} crm_channel_api;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_CHANNEL_H */
