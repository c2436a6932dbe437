// Shared by every kernel: the same math compiles as plain C++ (CPU/OpenMP module) and as CUDA.
#pragma once

#if defined(__CUDACC__)
#define AVX_HD __host__ __device__ __forceinline__
#else
#define AVX_HD inline
#endif
