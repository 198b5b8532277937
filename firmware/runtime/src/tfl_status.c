/* Message and name tables generated from TFL_STATUS_LIST, so they follow the enum exactly. */
#include "tfl_status.h"

#if TFL_WITH_MESSAGES
static const char *const tfl_status_messages[TFL_STATUS_COUNT] = {
#define TFL_STATUS_TEXT(name, text) text,
    TFL_STATUS_LIST(TFL_STATUS_TEXT)
#undef TFL_STATUS_TEXT
};

static const char *const tfl_status_names[TFL_STATUS_COUNT] = {
#define TFL_STATUS_NAME(name, text) #name,
    TFL_STATUS_LIST(TFL_STATUS_NAME)
#undef TFL_STATUS_NAME
};
#endif

#if TFL_WITH_MESSAGES
/* Entry `status` of a table, or `unknown` past its end. The unsigned compare is also right with
 * short enums (arm-none-eabi), where status >= 0 always. */
static const char *status_lookup(const char *const *table, tfl_status status, const char *unknown) {
  const unsigned index = (unsigned)status;
  return index < (unsigned)TFL_STATUS_COUNT ? table[index] : unknown;
}
#define TFL_STATUS_LOOKUP(table, status, unknown) status_lookup(table, status, unknown)
#else
#define TFL_STATUS_LOOKUP(table, status, unknown) ((void)(status), "")
#endif

const char *tfl_status_message(tfl_status status) {
  return TFL_STATUS_LOOKUP(tfl_status_messages, status, "unknown status");
}

const char *tfl_status_name(tfl_status status) {
  return TFL_STATUS_LOOKUP(tfl_status_names, status, "TFL_STATUS_UNKNOWN");
}
