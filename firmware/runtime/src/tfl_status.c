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

const char *tfl_status_message(tfl_status status) {
#if TFL_WITH_MESSAGES
  if ((int)status >= 0 && status < TFL_STATUS_COUNT) return tfl_status_messages[status];
  return "unknown status";
#else
  (void)status;
  return "";
#endif
}

const char *tfl_status_name(tfl_status status) {
#if TFL_WITH_MESSAGES
  if ((int)status >= 0 && status < TFL_STATUS_COUNT) return tfl_status_names[status];
  return "TFL_STATUS_UNKNOWN";
#else
  (void)status;
  return "";
#endif
}
