#!/usr/bin/python3
"""A real SMTP server (aiosmtpd, Maildir delivery) that drops the connection
during the DATA phase of the first N messages, for the e-mail channel's
retry tests:

  --drop after   the message is stored, then the connection is closed before
                 the server's "250" reply: the client cannot know it went
                 through (its retry makes a second copy with the same
                 Message-ID, which mail clients show once);
  --drop before  the connection is closed before the message is stored.

Usage: smtp_dropping.py --port 0 --drop after --count 1 MAILDIR
Prints "listening PORT" once ready.
"""
import argparse
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class DroppingMailbox(Mailbox):
    def __init__(self, maildir, drop, count):
        super().__init__(maildir)
        self.drop = drop
        self.remaining = count

    async def handle_DATA(self, server, session, envelope):
        if self.drop == "before" and self.remaining > 0:
            self.remaining -= 1
            server.transport.close()
            return "421 closing"
        result = await super().handle_DATA(server, session, envelope)
        if self.drop == "after" and self.remaining > 0:
            self.remaining -= 1
            server.transport.close()
        return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--drop", choices=["after", "before"], required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("maildir")
    args = parser.parse_args()
    controller = Controller(DroppingMailbox(args.maildir, args.drop, args.count), hostname="127.0.0.1",
                            port=args.port)
    controller.start()
    print(f"listening {controller.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
