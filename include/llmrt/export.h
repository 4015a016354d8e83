/* Symbol visibility for libllmrt's public C and C++ API. */
#ifndef LLMRT_EXPORT_H
#define LLMRT_EXPORT_H

#if defined(_WIN32)
#define LLMRT_API __declspec(dllexport)
#else
#define LLMRT_API __attribute__((visibility("default")))
#endif

#endif /* LLMRT_EXPORT_H */
