#include "runtime/kernels/gemm.h"

#include <cstdlib>
#include <atomic>
#include <cstring>
#include <mutex>

// Exported by OpenBLAS builds with DYNAMIC_ARCH (Debian's); weak so other builds still link.
extern "C" __attribute__((weak)) void gotoblas_dynamic_init(void);
extern "C" __attribute__((weak)) void gotoblas_dynamic_quit(void);

namespace convmend {
namespace {

// OpenBLAS 0.3.21 does not know recent Xeons (Sapphire Rapids under a hypervisor reports a
// model it cannot place) and falls back to the SSE3 "Prescott" kernels, 3-4x slower. When it
// chose a pre-AVX core on a CPU with AVX-512 or AVX2, reselect the core as OPENBLAS_CORETYPE
// would have. A user's own OPENBLAS_CORETYPE is never overridden.
void fix_openblas_core() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  if (gotoblas_dynamic_init == nullptr || gotoblas_dynamic_quit == nullptr) return;
  const char* core = openblas_get_corename();
  if (core == nullptr) return;
  static const char* const kPreAvxCores[] = {"Prescott", "Core2",   "Penryn", "Dunnington",
                                             "Nehalem",  "Atom",    "Katmai", "Coppermine",
                                             "Northwood", "Banias", "unknown"};
  bool pre_avx = false;
  for (const char* name : kPreAvxCores) pre_avx = pre_avx || std::strcmp(core, name) == 0;
  if (!pre_avx) return;
  __builtin_cpu_init();
  const char* better = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    better = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    better = "Haswell";
  }
  if (better == nullptr) return;
  setenv("OPENBLAS_CORETYPE", better, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

void prepare_blas(int threads) {
  static std::once_flag core_checked;
  std::call_once(core_checked, fix_openblas_core);
  static std::atomic<int> current{-1};
  if (threads < 1) threads = 1;
  if (current.exchange(threads) != threads) openblas_set_num_threads(threads);
}

}  // namespace convmend
