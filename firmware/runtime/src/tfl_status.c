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
  /* unsigned compare: also right with short enums (arm-none-eabi), where status >= 0 always */
  const unsigned index = (unsigned)status;
  if (index < (unsigned)TFL_STATUS_COUNT) return tfl_status_messages[index];
  return "unknown status";
#else
  (void)status;
  return "";
#endif
}

const char *tfl_status_name(tfl_status status) {
#if TFL_WITH_MESSAGES
  const unsigned index = (unsigned)status;
  if (index < (unsigned)TFL_STATUS_COUNT) return tfl_status_names[index];
  return "TFL_STATUS_UNKNOWN";
#else
  (void)status;
  return "";
#endif
}
