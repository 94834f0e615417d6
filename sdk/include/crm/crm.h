/*
 * crm/crm.h - includes every C header of the CRM plugin SDK.
 * Since: 1.0
 */
#ifndef CRM_CRM_H
#define CRM_CRM_H

#include "crm/abi.h"
#include "crm/channel.h"
#include "crm/connector.h"
#include "crm/host.h"
#include "crm/plugin.h"
#include "crm/scorer.h"

#endif /* CRM_CRM_H */
