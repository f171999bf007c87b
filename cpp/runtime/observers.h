// Observers that summarize node outputs as they are produced, in constant memory: the
// per-layer statistics of a run over many images without keeping any intermediate.
#pragma once

#include <string>
#include <vector>

#include "runtime/interpreter.h"

namespace convmend {

struct TensorStats {
  int64_t count = 0;
  double min = 0;
  double max = 0;
  double mean = 0;
  double std = 0;
  double mean_abs = 0;
};

// One pass over a float tensor (f32 or f64); other dtypes give count = 0.
TensorStats compute_stats(const Tensor& t);

class StatsObserver : public Observer {
 public:
  struct Row {
    std::string value_name;
    TensorStats stats;
  };
  bool wants(const Node& node) override { return true; }
  Status on_output(const Node& node, size_t index, const Tensor& value) override;
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::vector<Row> rows_;
};

}  // namespace convmend
