/* PADV2 (int8 and 16x8 int16): PAD with an explicit constant fill value. The implementation is op_pad.c's,
 * compiled here a second time with static linkage (see that file for TFLM's rules). */
#define TFL_PAD_AS_PADV2 1
#include "op_pad.c"
