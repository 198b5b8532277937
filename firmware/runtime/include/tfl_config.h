/* tinyflash runtime build options. Every option is 0/1 (or a count) with a default here;
 * boards and generated projects override them with -D flags. */
#ifndef TFL_CONFIG_H
#define TFL_CONFIG_H

/* Bumped whenever generated code and the runtime stop being compatible. Generated files
 * carry `#if TFL_ABI_VERSION != N` so a stale project fails at compile time. */
#define TFL_ABI_VERSION 1

/* Largest tensor rank the runtime accepts (TFLite kernels use at most 6). */
#ifndef TFL_MAX_DIMS
#define TFL_MAX_DIMS 6
#endif

/* 1: tfl_status_message() returns text; 0: it returns "" and the strings are not linked. */
#ifndef TFL_WITH_MESSAGES
#define TFL_WITH_MESSAGES 1
#endif

/* 1: Cortex-M DSP-extension kernels (SMLAD/SXTB16) where a kernel has them. */
#ifndef TFL_USE_DSP
#define TFL_USE_DSP 0
#endif

/* 1: Cortex-M55 Helium (MVE) kernels for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD and
 * the 2-D pools (kernels/tfl_kernel_mve.c) on a core with MVE; they replace the DSP paths. */
#ifndef TFL_USE_MVE
#define TFL_USE_MVE 0
#endif

/* 1: the 16x8 paths (int16 activations, int8 weights) of the kernels in tfl_kernels_int16.h;
 * 0: prepare refuses int16 tensors (TFL_ERR_UNSUPPORTED_TYPE) and the int16 evals and tables are
 * not linked. tinyflash generate sets 0 for a model without int16 tensors. */
#ifndef TFL_WITH_INT16
#define TFL_WITH_INT16 1
#endif

/* Bytes of per-op data each node carries for its kernel (parameters computed in prepare). */
#ifndef TFL_OP_DATA_WORDS
#define TFL_OP_DATA_WORDS 24
#endif

/* Subgraphs a model may have (subgraph 0 is the one tfl_invoke runs; control-flow operators such as
 * CALL_ONCE run the others) and distinct resource variables (VAR_HANDLE) it may create. The
 * interpreter struct holds one small record of each. */
#ifndef TFL_MAX_SUBGRAPHS
#define TFL_MAX_SUBGRAPHS 4
#endif
#ifndef TFL_MAX_RESOURCES
#define TFL_MAX_RESOURCES 8
#endif

/* Body runs one WHILE may make per eval before it fails with TFL_ERR_BAD_ARGUMENT; 0: no limit
 * (as TFLM, which loops as long as the condition says). The fuzz targets set a limit, so a
 * mutated condition that never turns false ends. */
#ifndef TFL_MAX_WHILE_ITERATIONS
#define TFL_MAX_WHILE_ITERATIONS 0
#endif

/* 1: compressed weights (tfl_kernel_wz.h) are read and decoded; 0: a model holding them is
 * refused (TFL_ERR_BAD_BUFFER) and their code is not linked. tinyflash generate sets 0 when it
 * stores every tensor dense. */
#ifndef TFL_WITH_WZ
#define TFL_WITH_WZ 1
#endif

/* Stack bytes a compressed-weight eval (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) decodes
 * its weights into, a few output channels at a time (tfl_kernel_wz.h); no arena is used. */
#ifndef TFL_WZ_STACK_BYTES
#define TFL_WZ_STACK_BYTES 2048
#endif

#if defined(__GNUC__)
#define TFL_MUST_CHECK __attribute__((warn_unused_result))
#else
#define TFL_MUST_CHECK
#endif

#endif
