// The kernel interface: one plain reference function per op (runtime/kernels/<family>.cpp),
// dispatched through a table built from op_table.inc. Outputs are allocated by the
// interpreter from the shape function's result and passed in; a kernel only fills them.
#pragma once

#include <memory>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend {

struct RunOptions {
  // Compute float32 values in float64 ("exact mode"), to tell which of two models is closer
  // to the true arithmetic.
  bool exact = false;
  // Threads a kernel may use (BLAS and the kernels' own loops).
  int threads = 1;
  // Use the reference kernels only, never a fast path.
  bool reference_only = false;
};

// State a kernel may keep for a node between runs (for example weights packed for GEMM).
// The interpreter owns it; it is dropped when the node's constant inputs change.
struct KernelState {
  virtual ~KernelState() = default;
};

struct KernelContext {
  const Node& node;
  std::vector<const Tensor*> inputs;  // nullptr for an omitted optional input
  std::vector<Tensor*> outputs;       // allocated with the inferred dtype and shape
  const RunOptions& options;
  std::unique_ptr<KernelState>* state;  // never null inside a kernel call
};

using KernelFn = Status (*)(KernelContext& ctx);

#define X(name, min_in, max_in, min_out, max_out) Status run_##name(KernelContext& ctx);
#include "ir/op_table.inc"
#undef X

KernelFn kernel_for(OpKind op);

}  // namespace convmend
