// PAD / PADV2 / MIRROR_PAD <-> Pad. TFLite's paddings are [rank, 2] (begin, end per dim); the
// IR's pads are [begins..., ends...] int64.
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Status import_pad(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> paddings, ctx.constant_ints(1));
  if (paddings.size() % 2 != 0) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "paddings has ", paddings.size(),
                 " values; [rank, 2] expected");
  }
  const size_t rank = paddings.size() / 2;
  std::vector<int64_t> pads(paddings.size());
  for (size_t d = 0; d < rank; ++d) {
    pads[d] = paddings[2 * d];
    pads[rank + d] = paddings[2 * d + 1];
  }
  Attributes a;
  std::vector<Value*> inputs = {x, ctx.constant_i64("pads", pads)};
  if (ctx.code() == BuiltinOperator::kPadv2 && ctx.input(2) != nullptr) {
    inputs.push_back(ctx.input(2));
  } else if (ctx.code() == BuiltinOperator::kMirrorPad) {
    ASSIGN_OR_RETURN(int64_t mode, ctx.opt_int("mode"));
    if (mode != 0) {
      return error(StatusCode::kUnsupported, ctx.describe(),
                   "MIRROR_PAD mode SYMMETRIC has no IR equivalent yet (only REFLECT)");
    }
    a.set("mode", std::string("reflect"));
  }
  ctx.add_node(OpKind::kPad, inputs, std::move(a));
  return Status::ok();
}

Status export_pad(ExportContext& ctx) {
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(std::string mode, a.get_string("mode", "constant"));
  if (mode != "constant") {
    return error(StatusCode::kUnsupported, ctx.describe(), "Pad mode '", mode,
                 "' cannot be written yet (MIRROR_PAD options are not in the codec)");
  }
  if (ctx.input(3) != nullptr) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Pad with axes cannot be written yet");
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ctx.constant_ints(1));
  const size_t rank = pads.size() / 2;
  std::vector<int64_t> paddings(pads.size());
  for (size_t d = 0; d < rank; ++d) {
    paddings[2 * d] = pads[d];
    paddings[2 * d + 1] = pads[rank + d];
  }
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t p, ctx.int32_constant(paddings, {static_cast<int64_t>(rank), 2},
                                                 "paddings"));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  const Value* value = ctx.input(2);
  if (value == nullptr) {
    ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kPadOptions));
    return ctx.emit(BuiltinOperator::kPad, {x, p}, {y}, std::move(o));
  }
  ASSIGN_OR_RETURN(int32_t v, ctx.input_tensor(2));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kPadV2Options));
  return ctx.emit(BuiltinOperator::kPadv2, {x, p, v}, {y}, std::move(o));
}

}  // namespace

void register_pad_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kPad, &import_pad);
  r.add_import(BuiltinOperator::kPadv2, &import_pad);
  r.add_import(BuiltinOperator::kMirrorPad, &import_pad);
  r.add_export(OpKind::kPad, &export_pad);
}

}  // namespace convmend::tflite
