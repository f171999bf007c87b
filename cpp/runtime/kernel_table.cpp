#include <array>

#include "runtime/kernel.h"

namespace convmend {
namespace {

constexpr std::array<KernelFn, kNumOps> kKernels = {{
#define X(name, min_in, max_in, min_out, max_out) &run_##name,
#include "ir/op_table.inc"
#undef X
}};
static_assert(kKernels.size() == static_cast<size_t>(kNumOps));

}  // namespace

KernelFn kernel_for(OpKind op) { return kKernels[static_cast<size_t>(op)]; }

}  // namespace convmend
