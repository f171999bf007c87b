// The parts of the TFLite FlatBuffer schema (schema.fbs, "TFL3") that convmend reads and writes,
// spelled as named constants: field ids (vtable slots) per table, the BuiltinOperator and
// BuiltinOptions codes, tensor types, and a descriptor per supported builtin-options table.
// Field ids and codes were read off the schema; a field id becomes a vtable offset 4 + 2 * id.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace convmend::tflite {

using FieldId = uint16_t;

// Byte offset of a field inside a FlatBuffer vtable: two header entries, then one per field.
constexpr uint16_t vtable_offset(FieldId id) { return static_cast<uint16_t>(4 + 2 * id); }

// kCount is the number of slots in the newest schema we know; a table with a present field at or
// beyond it was written by a newer converter and is refused rather than silently truncated.
struct ModelFields {
  static constexpr FieldId kVersion = 0;
  static constexpr FieldId kOperatorCodes = 1;
  static constexpr FieldId kSubgraphs = 2;
  static constexpr FieldId kDescription = 3;
  static constexpr FieldId kBuffers = 4;
  static constexpr FieldId kMetadataBuffer = 5;
  static constexpr FieldId kMetadata = 6;
  static constexpr FieldId kSignatureDefs = 7;
  static constexpr FieldId kExternalBufferGroups = 8;  // refused: external weight files
  static constexpr FieldId kExternalBuffers = 9;       // refused: external weight files
  static constexpr FieldId kCount = 10;
};

struct OperatorCodeFields {
  static constexpr FieldId kDeprecatedBuiltinCode = 0;  // int8, codes < 127 only
  static constexpr FieldId kCustomCode = 1;
  static constexpr FieldId kVersion = 2;  // int32, default 1
  static constexpr FieldId kBuiltinCode = 3;  // int32
  static constexpr FieldId kCount = 4;
};

struct SubGraphFields {
  static constexpr FieldId kTensors = 0;
  static constexpr FieldId kInputs = 1;
  static constexpr FieldId kOutputs = 2;
  static constexpr FieldId kOperators = 3;
  static constexpr FieldId kName = 4;
  static constexpr FieldId kDebugMetadataIndex = 5;  // int32, default -1
  static constexpr FieldId kCount = 6;
};

struct TensorFields {
  static constexpr FieldId kShape = 0;
  static constexpr FieldId kType = 1;    // int8 TensorType
  static constexpr FieldId kBuffer = 2;  // uint32
  static constexpr FieldId kName = 3;
  static constexpr FieldId kQuantization = 4;
  static constexpr FieldId kIsVariable = 5;
  static constexpr FieldId kSparsity = 6;  // refused
  static constexpr FieldId kShapeSignature = 7;
  static constexpr FieldId kHasRank = 8;
  static constexpr FieldId kVariantTensors = 9;   // refused
  static constexpr FieldId kExternalBuffer = 10;  // refused
  static constexpr FieldId kCount = 11;
};

struct QuantizationFields {
  static constexpr FieldId kMin = 0;
  static constexpr FieldId kMax = 1;
  static constexpr FieldId kScale = 2;
  static constexpr FieldId kZeroPoint = 3;  // vector<int64>
  static constexpr FieldId kDetailsType = 4;  // uint8 QuantizationDetails union tag
  static constexpr FieldId kDetails = 5;
  static constexpr FieldId kQuantizedDimension = 6;
  static constexpr FieldId kCount = 7;
};

struct BufferFields {
  static constexpr FieldId kData = 0;
  static constexpr FieldId kOffset = 1;  // uint64, from the start of the file; > 1 means outside
  static constexpr FieldId kSize = 2;    // uint64
  static constexpr FieldId kCount = 3;
};

struct OperatorFields {
  static constexpr FieldId kOpcodeIndex = 0;  // uint32
  static constexpr FieldId kInputs = 1;
  static constexpr FieldId kOutputs = 2;
  static constexpr FieldId kBuiltinOptionsType = 3;  // uint8 BuiltinOptions union tag
  static constexpr FieldId kBuiltinOptions = 4;
  static constexpr FieldId kCustomOptions = 5;
  static constexpr FieldId kCustomOptionsFormat = 6;  // int8
  static constexpr FieldId kMutatingVariableInputs = 7;  // vector<bool>
  static constexpr FieldId kIntermediates = 8;
  static constexpr FieldId kLargeCustomOptionsOffset = 9;  // refused
  static constexpr FieldId kLargeCustomOptionsSize = 10;   // refused
  static constexpr FieldId kBuiltinOptions2Type = 11;      // refused
  static constexpr FieldId kBuiltinOptions2 = 12;          // refused
  static constexpr FieldId kDebugMetadataIndex = 13;       // int32, default -1
  static constexpr FieldId kCount = 14;
};

struct MetadataFields {
  static constexpr FieldId kName = 0;
  static constexpr FieldId kBuffer = 1;  // uint32
  static constexpr FieldId kCount = 2;
};

struct TensorMapFields {
  static constexpr FieldId kName = 0;
  static constexpr FieldId kTensorIndex = 1;  // uint32
  static constexpr FieldId kCount = 2;
};

struct SignatureDefFields {
  static constexpr FieldId kInputs = 0;
  static constexpr FieldId kOutputs = 1;
  static constexpr FieldId kSignatureKey = 2;
  // Field 3 is deprecated in the schema and never written.
  static constexpr FieldId kSubgraphIndex = 4;  // uint32
  static constexpr FieldId kCount = 5;
};

// The 4-byte file identifier at bytes 4..8; optional when reading.
inline constexpr char kFileIdentifier[] = "TFL3";

// X(enumerator, schema name, code)
#define CONVMEND_TFLITE_BUILTIN_OPERATORS(X) \
  X(kAdd, "ADD", 0) \
  X(kAveragePool2d, "AVERAGE_POOL_2D", 1) \
  X(kConcatenation, "CONCATENATION", 2) \
  X(kConv2d, "CONV_2D", 3) \
  X(kDepthwiseConv2d, "DEPTHWISE_CONV_2D", 4) \
  X(kDepthToSpace, "DEPTH_TO_SPACE", 5) \
  X(kDequantize, "DEQUANTIZE", 6) \
  X(kEmbeddingLookup, "EMBEDDING_LOOKUP", 7) \
  X(kFloor, "FLOOR", 8) \
  X(kFullyConnected, "FULLY_CONNECTED", 9) \
  X(kHashtableLookup, "HASHTABLE_LOOKUP", 10) \
  X(kL2Normalization, "L2_NORMALIZATION", 11) \
  X(kL2Pool2d, "L2_POOL_2D", 12) \
  X(kLocalResponseNormalization, "LOCAL_RESPONSE_NORMALIZATION", 13) \
  X(kLogistic, "LOGISTIC", 14) \
  X(kLshProjection, "LSH_PROJECTION", 15) \
  X(kLstm, "LSTM", 16) \
  X(kMaxPool2d, "MAX_POOL_2D", 17) \
  X(kMul, "MUL", 18) \
  X(kRelu, "RELU", 19) \
  X(kReluN1To1, "RELU_N1_TO_1", 20) \
  X(kRelu6, "RELU6", 21) \
  X(kReshape, "RESHAPE", 22) \
  X(kResizeBilinear, "RESIZE_BILINEAR", 23) \
  X(kRnn, "RNN", 24) \
  X(kSoftmax, "SOFTMAX", 25) \
  X(kSpaceToDepth, "SPACE_TO_DEPTH", 26) \
  X(kSvdf, "SVDF", 27) \
  X(kTanh, "TANH", 28) \
  X(kConcatEmbeddings, "CONCAT_EMBEDDINGS", 29) \
  X(kSkipGram, "SKIP_GRAM", 30) \
  X(kCall, "CALL", 31) \
  X(kCustom, "CUSTOM", 32) \
  X(kEmbeddingLookupSparse, "EMBEDDING_LOOKUP_SPARSE", 33) \
  X(kPad, "PAD", 34) \
  X(kUnidirectionalSequenceRnn, "UNIDIRECTIONAL_SEQUENCE_RNN", 35) \
  X(kGather, "GATHER", 36) \
  X(kBatchToSpaceNd, "BATCH_TO_SPACE_ND", 37) \
  X(kSpaceToBatchNd, "SPACE_TO_BATCH_ND", 38) \
  X(kTranspose, "TRANSPOSE", 39) \
  X(kMean, "MEAN", 40) \
  X(kSub, "SUB", 41) \
  X(kDiv, "DIV", 42) \
  X(kSqueeze, "SQUEEZE", 43) \
  X(kUnidirectionalSequenceLstm, "UNIDIRECTIONAL_SEQUENCE_LSTM", 44) \
  X(kStridedSlice, "STRIDED_SLICE", 45) \
  X(kBidirectionalSequenceRnn, "BIDIRECTIONAL_SEQUENCE_RNN", 46) \
  X(kExp, "EXP", 47) \
  X(kTopkV2, "TOPK_V2", 48) \
  X(kSplit, "SPLIT", 49) \
  X(kLogSoftmax, "LOG_SOFTMAX", 50) \
  X(kDelegate, "DELEGATE", 51) \
  X(kBidirectionalSequenceLstm, "BIDIRECTIONAL_SEQUENCE_LSTM", 52) \
  X(kCast, "CAST", 53) \
  X(kPrelu, "PRELU", 54) \
  X(kMaximum, "MAXIMUM", 55) \
  X(kArgMax, "ARG_MAX", 56) \
  X(kMinimum, "MINIMUM", 57) \
  X(kLess, "LESS", 58) \
  X(kNeg, "NEG", 59) \
  X(kPadv2, "PADV2", 60) \
  X(kGreater, "GREATER", 61) \
  X(kGreaterEqual, "GREATER_EQUAL", 62) \
  X(kLessEqual, "LESS_EQUAL", 63) \
  X(kSelect, "SELECT", 64) \
  X(kSlice, "SLICE", 65) \
  X(kSin, "SIN", 66) \
  X(kTransposeConv, "TRANSPOSE_CONV", 67) \
  X(kSparseToDense, "SPARSE_TO_DENSE", 68) \
  X(kTile, "TILE", 69) \
  X(kExpandDims, "EXPAND_DIMS", 70) \
  X(kEqual, "EQUAL", 71) \
  X(kNotEqual, "NOT_EQUAL", 72) \
  X(kLog, "LOG", 73) \
  X(kSum, "SUM", 74) \
  X(kSqrt, "SQRT", 75) \
  X(kRsqrt, "RSQRT", 76) \
  X(kShape, "SHAPE", 77) \
  X(kPow, "POW", 78) \
  X(kArgMin, "ARG_MIN", 79) \
  X(kFakeQuant, "FAKE_QUANT", 80) \
  X(kReduceProd, "REDUCE_PROD", 81) \
  X(kReduceMax, "REDUCE_MAX", 82) \
  X(kPack, "PACK", 83) \
  X(kLogicalOr, "LOGICAL_OR", 84) \
  X(kOneHot, "ONE_HOT", 85) \
  X(kLogicalAnd, "LOGICAL_AND", 86) \
  X(kLogicalNot, "LOGICAL_NOT", 87) \
  X(kUnpack, "UNPACK", 88) \
  X(kReduceMin, "REDUCE_MIN", 89) \
  X(kFloorDiv, "FLOOR_DIV", 90) \
  X(kReduceAny, "REDUCE_ANY", 91) \
  X(kSquare, "SQUARE", 92) \
  X(kZerosLike, "ZEROS_LIKE", 93) \
  X(kFill, "FILL", 94) \
  X(kFloorMod, "FLOOR_MOD", 95) \
  X(kRange, "RANGE", 96) \
  X(kResizeNearestNeighbor, "RESIZE_NEAREST_NEIGHBOR", 97) \
  X(kLeakyRelu, "LEAKY_RELU", 98) \
  X(kSquaredDifference, "SQUARED_DIFFERENCE", 99) \
  X(kMirrorPad, "MIRROR_PAD", 100) \
  X(kAbs, "ABS", 101) \
  X(kSplitV, "SPLIT_V", 102) \
  X(kUnique, "UNIQUE", 103) \
  X(kCeil, "CEIL", 104) \
  X(kReverseV2, "REVERSE_V2", 105) \
  X(kAddN, "ADD_N", 106) \
  X(kGatherNd, "GATHER_ND", 107) \
  X(kCos, "COS", 108) \
  X(kWhere, "WHERE", 109) \
  X(kRank, "RANK", 110) \
  X(kElu, "ELU", 111) \
  X(kReverseSequence, "REVERSE_SEQUENCE", 112) \
  X(kMatrixDiag, "MATRIX_DIAG", 113) \
  X(kQuantize, "QUANTIZE", 114) \
  X(kMatrixSetDiag, "MATRIX_SET_DIAG", 115) \
  X(kRound, "ROUND", 116) \
  X(kHardSwish, "HARD_SWISH", 117) \
  X(kIf, "IF", 118) \
  X(kWhile, "WHILE", 119) \
  X(kNonMaxSuppressionV4, "NON_MAX_SUPPRESSION_V4", 120) \
  X(kNonMaxSuppressionV5, "NON_MAX_SUPPRESSION_V5", 121) \
  X(kScatterNd, "SCATTER_ND", 122) \
  X(kSelectV2, "SELECT_V2", 123) \
  X(kDensify, "DENSIFY", 124) \
  X(kSegmentSum, "SEGMENT_SUM", 125) \
  X(kBatchMatmul, "BATCH_MATMUL", 126) \
  X(kPlaceholderForGreaterOpCodes, "PLACEHOLDER_FOR_GREATER_OP_CODES", 127) \
  X(kCumsum, "CUMSUM", 128) \
  X(kCallOnce, "CALL_ONCE", 129) \
  X(kBroadcastTo, "BROADCAST_TO", 130) \
  X(kRfft2d, "RFFT2D", 131) \
  X(kConv3d, "CONV_3D", 132) \
  X(kImag, "IMAG", 133) \
  X(kReal, "REAL", 134) \
  X(kComplexAbs, "COMPLEX_ABS", 135) \
  X(kHashtable, "HASHTABLE", 136) \
  X(kHashtableFind, "HASHTABLE_FIND", 137) \
  X(kHashtableImport, "HASHTABLE_IMPORT", 138) \
  X(kHashtableSize, "HASHTABLE_SIZE", 139) \
  X(kReduceAll, "REDUCE_ALL", 140) \
  X(kConv3dTranspose, "CONV_3D_TRANSPOSE", 141) \
  X(kVarHandle, "VAR_HANDLE", 142) \
  X(kReadVariable, "READ_VARIABLE", 143) \
  X(kAssignVariable, "ASSIGN_VARIABLE", 144) \
  X(kBroadcastArgs, "BROADCAST_ARGS", 145) \
  X(kRandomStandardNormal, "RANDOM_STANDARD_NORMAL", 146) \
  X(kBucketize, "BUCKETIZE", 147) \
  X(kRandomUniform, "RANDOM_UNIFORM", 148) \
  X(kMultinomial, "MULTINOMIAL", 149) \
  X(kGelu, "GELU", 150) \
  X(kDynamicUpdateSlice, "DYNAMIC_UPDATE_SLICE", 151) \
  X(kRelu0To1, "RELU_0_TO_1", 152) \
  X(kUnsortedSegmentProd, "UNSORTED_SEGMENT_PROD", 153) \
  X(kUnsortedSegmentMax, "UNSORTED_SEGMENT_MAX", 154) \
  X(kUnsortedSegmentSum, "UNSORTED_SEGMENT_SUM", 155) \
  X(kAtan2, "ATAN2", 156) \
  X(kUnsortedSegmentMin, "UNSORTED_SEGMENT_MIN", 157) \
  X(kSign, "SIGN", 158) \
  X(kBitcast, "BITCAST", 159) \
  X(kBitwiseXor, "BITWISE_XOR", 160) \
  X(kRightShift, "RIGHT_SHIFT", 161) \
  X(kStablehloLogistic, "STABLEHLO_LOGISTIC", 162) \
  X(kStablehloAdd, "STABLEHLO_ADD", 163) \
  X(kStablehloDivide, "STABLEHLO_DIVIDE", 164) \
  X(kStablehloMultiply, "STABLEHLO_MULTIPLY", 165) \
  X(kStablehloMaximum, "STABLEHLO_MAXIMUM", 166) \
  X(kStablehloReshape, "STABLEHLO_RESHAPE", 167) \
  X(kStablehloClamp, "STABLEHLO_CLAMP", 168) \
  X(kStablehloConcatenate, "STABLEHLO_CONCATENATE", 169) \
  X(kStablehloBroadcastInDim, "STABLEHLO_BROADCAST_IN_DIM", 170) \
  X(kStablehloConvolution, "STABLEHLO_CONVOLUTION", 171) \
  X(kStablehloSlice, "STABLEHLO_SLICE", 172) \
  X(kStablehloCustomCall, "STABLEHLO_CUSTOM_CALL", 173) \
  X(kStablehloReduce, "STABLEHLO_REDUCE", 174) \
  X(kStablehloAbs, "STABLEHLO_ABS", 175) \
  X(kStablehloAnd, "STABLEHLO_AND", 176) \
  X(kStablehloCosine, "STABLEHLO_COSINE", 177) \
  X(kStablehloExponential, "STABLEHLO_EXPONENTIAL", 178) \
  X(kStablehloFloor, "STABLEHLO_FLOOR", 179) \
  X(kStablehloLog, "STABLEHLO_LOG", 180) \
  X(kStablehloMinimum, "STABLEHLO_MINIMUM", 181) \
  X(kStablehloNegate, "STABLEHLO_NEGATE", 182) \
  X(kStablehloOr, "STABLEHLO_OR", 183) \
  X(kStablehloPower, "STABLEHLO_POWER", 184) \
  X(kStablehloRemainder, "STABLEHLO_REMAINDER", 185) \
  X(kStablehloRsqrt, "STABLEHLO_RSQRT", 186) \
  X(kStablehloSelect, "STABLEHLO_SELECT", 187) \
  X(kStablehloSubtract, "STABLEHLO_SUBTRACT", 188) \
  X(kStablehloTanh, "STABLEHLO_TANH", 189) \
  X(kStablehloScatter, "STABLEHLO_SCATTER", 190) \
  X(kStablehloCompare, "STABLEHLO_COMPARE", 191) \
  X(kStablehloConvert, "STABLEHLO_CONVERT", 192) \
  X(kStablehloDynamicSlice, "STABLEHLO_DYNAMIC_SLICE", 193) \
  X(kStablehloDynamicUpdateSlice, "STABLEHLO_DYNAMIC_UPDATE_SLICE", 194) \
  X(kStablehloPad, "STABLEHLO_PAD", 195) \
  X(kStablehloIota, "STABLEHLO_IOTA", 196) \
  X(kStablehloDotGeneral, "STABLEHLO_DOT_GENERAL", 197) \
  X(kStablehloReduceWindow, "STABLEHLO_REDUCE_WINDOW", 198) \
  X(kStablehloSort, "STABLEHLO_SORT", 199) \
  X(kStablehloWhile, "STABLEHLO_WHILE", 200) \
  X(kStablehloGather, "STABLEHLO_GATHER", 201) \
  X(kStablehloTranspose, "STABLEHLO_TRANSPOSE", 202) \
  X(kDilate, "DILATE", 203) \
  X(kStablehloRngBitGenerator, "STABLEHLO_RNG_BIT_GENERATOR", 204) \
  X(kReduceWindow, "REDUCE_WINDOW", 205) \
  X(kStablehloComposite, "STABLEHLO_COMPOSITE", 206) \
  X(kStablehloShiftLeft, "STABLEHLO_SHIFT_LEFT", 207) \
  X(kStablehloCbrt, "STABLEHLO_CBRT", 208) \
  X(kStablehloCase, "STABLEHLO_CASE", 209)

enum class BuiltinOperator : int32_t {
#define CONVMEND_X(enumerator, name, code) enumerator = code,
  CONVMEND_TFLITE_BUILTIN_OPERATORS(CONVMEND_X)
#undef CONVMEND_X
};

// The largest code that fits OperatorCode.deprecated_builtin_code (int8).
inline constexpr int32_t kPlaceholderForGreaterOpCodes = 127;

// X(enumerator, schema name, union tag)
#define CONVMEND_TFLITE_BUILTIN_OPTIONS_TYPES(X) \
  X(kNone, "NONE", 0) \
  X(kConv2DOptions, "Conv2DOptions", 1) \
  X(kDepthwiseConv2DOptions, "DepthwiseConv2DOptions", 2) \
  X(kConcatEmbeddingsOptions, "ConcatEmbeddingsOptions", 3) \
  X(kLSHProjectionOptions, "LSHProjectionOptions", 4) \
  X(kPool2DOptions, "Pool2DOptions", 5) \
  X(kSVDFOptions, "SVDFOptions", 6) \
  X(kRNNOptions, "RNNOptions", 7) \
  X(kFullyConnectedOptions, "FullyConnectedOptions", 8) \
  X(kSoftmaxOptions, "SoftmaxOptions", 9) \
  X(kConcatenationOptions, "ConcatenationOptions", 10) \
  X(kAddOptions, "AddOptions", 11) \
  X(kL2NormOptions, "L2NormOptions", 12) \
  X(kLocalResponseNormalizationOptions, "LocalResponseNormalizationOptions", 13) \
  X(kLSTMOptions, "LSTMOptions", 14) \
  X(kResizeBilinearOptions, "ResizeBilinearOptions", 15) \
  X(kCallOptions, "CallOptions", 16) \
  X(kReshapeOptions, "ReshapeOptions", 17) \
  X(kSkipGramOptions, "SkipGramOptions", 18) \
  X(kSpaceToDepthOptions, "SpaceToDepthOptions", 19) \
  X(kEmbeddingLookupSparseOptions, "EmbeddingLookupSparseOptions", 20) \
  X(kMulOptions, "MulOptions", 21) \
  X(kPadOptions, "PadOptions", 22) \
  X(kGatherOptions, "GatherOptions", 23) \
  X(kBatchToSpaceNDOptions, "BatchToSpaceNDOptions", 24) \
  X(kSpaceToBatchNDOptions, "SpaceToBatchNDOptions", 25) \
  X(kTransposeOptions, "TransposeOptions", 26) \
  X(kReducerOptions, "ReducerOptions", 27) \
  X(kSubOptions, "SubOptions", 28) \
  X(kDivOptions, "DivOptions", 29) \
  X(kSqueezeOptions, "SqueezeOptions", 30) \
  X(kSequenceRNNOptions, "SequenceRNNOptions", 31) \
  X(kStridedSliceOptions, "StridedSliceOptions", 32) \
  X(kExpOptions, "ExpOptions", 33) \
  X(kTopKV2Options, "TopKV2Options", 34) \
  X(kSplitOptions, "SplitOptions", 35) \
  X(kLogSoftmaxOptions, "LogSoftmaxOptions", 36) \
  X(kCastOptions, "CastOptions", 37) \
  X(kDequantizeOptions, "DequantizeOptions", 38) \
  X(kMaximumMinimumOptions, "MaximumMinimumOptions", 39) \
  X(kArgMaxOptions, "ArgMaxOptions", 40) \
  X(kLessOptions, "LessOptions", 41) \
  X(kNegOptions, "NegOptions", 42) \
  X(kPadV2Options, "PadV2Options", 43) \
  X(kGreaterOptions, "GreaterOptions", 44) \
  X(kGreaterEqualOptions, "GreaterEqualOptions", 45) \
  X(kLessEqualOptions, "LessEqualOptions", 46) \
  X(kSelectOptions, "SelectOptions", 47) \
  X(kSliceOptions, "SliceOptions", 48) \
  X(kTransposeConvOptions, "TransposeConvOptions", 49) \
  X(kSparseToDenseOptions, "SparseToDenseOptions", 50) \
  X(kTileOptions, "TileOptions", 51) \
  X(kExpandDimsOptions, "ExpandDimsOptions", 52) \
  X(kEqualOptions, "EqualOptions", 53) \
  X(kNotEqualOptions, "NotEqualOptions", 54) \
  X(kShapeOptions, "ShapeOptions", 55) \
  X(kPowOptions, "PowOptions", 56) \
  X(kArgMinOptions, "ArgMinOptions", 57) \
  X(kFakeQuantOptions, "FakeQuantOptions", 58) \
  X(kPackOptions, "PackOptions", 59) \
  X(kLogicalOrOptions, "LogicalOrOptions", 60) \
  X(kOneHotOptions, "OneHotOptions", 61) \
  X(kLogicalAndOptions, "LogicalAndOptions", 62) \
  X(kLogicalNotOptions, "LogicalNotOptions", 63) \
  X(kUnpackOptions, "UnpackOptions", 64) \
  X(kFloorDivOptions, "FloorDivOptions", 65) \
  X(kSquareOptions, "SquareOptions", 66) \
  X(kZerosLikeOptions, "ZerosLikeOptions", 67) \
  X(kFillOptions, "FillOptions", 68) \
  X(kBidirectionalSequenceLSTMOptions, "BidirectionalSequenceLSTMOptions", 69) \
  X(kBidirectionalSequenceRNNOptions, "BidirectionalSequenceRNNOptions", 70) \
  X(kUnidirectionalSequenceLSTMOptions, "UnidirectionalSequenceLSTMOptions", 71) \
  X(kFloorModOptions, "FloorModOptions", 72) \
  X(kRangeOptions, "RangeOptions", 73) \
  X(kResizeNearestNeighborOptions, "ResizeNearestNeighborOptions", 74) \
  X(kLeakyReluOptions, "LeakyReluOptions", 75) \
  X(kSquaredDifferenceOptions, "SquaredDifferenceOptions", 76) \
  X(kMirrorPadOptions, "MirrorPadOptions", 77) \
  X(kAbsOptions, "AbsOptions", 78) \
  X(kSplitVOptions, "SplitVOptions", 79) \
  X(kUniqueOptions, "UniqueOptions", 80) \
  X(kReverseV2Options, "ReverseV2Options", 81) \
  X(kAddNOptions, "AddNOptions", 82) \
  X(kGatherNdOptions, "GatherNdOptions", 83) \
  X(kCosOptions, "CosOptions", 84) \
  X(kWhereOptions, "WhereOptions", 85) \
  X(kRankOptions, "RankOptions", 86) \
  X(kReverseSequenceOptions, "ReverseSequenceOptions", 87) \
  X(kMatrixDiagOptions, "MatrixDiagOptions", 88) \
  X(kQuantizeOptions, "QuantizeOptions", 89) \
  X(kMatrixSetDiagOptions, "MatrixSetDiagOptions", 90) \
  X(kHardSwishOptions, "HardSwishOptions", 91) \
  X(kIfOptions, "IfOptions", 92) \
  X(kWhileOptions, "WhileOptions", 93) \
  X(kDepthToSpaceOptions, "DepthToSpaceOptions", 94) \
  X(kNonMaxSuppressionV4Options, "NonMaxSuppressionV4Options", 95) \
  X(kNonMaxSuppressionV5Options, "NonMaxSuppressionV5Options", 96) \
  X(kScatterNdOptions, "ScatterNdOptions", 97) \
  X(kSelectV2Options, "SelectV2Options", 98) \
  X(kDensifyOptions, "DensifyOptions", 99) \
  X(kSegmentSumOptions, "SegmentSumOptions", 100) \
  X(kBatchMatMulOptions, "BatchMatMulOptions", 101) \
  X(kCumsumOptions, "CumsumOptions", 102) \
  X(kCallOnceOptions, "CallOnceOptions", 103) \
  X(kBroadcastToOptions, "BroadcastToOptions", 104) \
  X(kRfft2dOptions, "Rfft2dOptions", 105) \
  X(kConv3DOptions, "Conv3DOptions", 106) \
  X(kHashtableOptions, "HashtableOptions", 107) \
  X(kHashtableFindOptions, "HashtableFindOptions", 108) \
  X(kHashtableImportOptions, "HashtableImportOptions", 109) \
  X(kHashtableSizeOptions, "HashtableSizeOptions", 110) \
  X(kVarHandleOptions, "VarHandleOptions", 111) \
  X(kReadVariableOptions, "ReadVariableOptions", 112) \
  X(kAssignVariableOptions, "AssignVariableOptions", 113) \
  X(kRandomOptions, "RandomOptions", 114) \
  X(kBucketizeOptions, "BucketizeOptions", 115) \
  X(kGeluOptions, "GeluOptions", 116) \
  X(kDynamicUpdateSliceOptions, "DynamicUpdateSliceOptions", 117) \
  X(kUnsortedSegmentProdOptions, "UnsortedSegmentProdOptions", 118) \
  X(kUnsortedSegmentMaxOptions, "UnsortedSegmentMaxOptions", 119) \
  X(kUnsortedSegmentMinOptions, "UnsortedSegmentMinOptions", 120) \
  X(kUnsortedSegmentSumOptions, "UnsortedSegmentSumOptions", 121) \
  X(kATan2Options, "ATan2Options", 122) \
  X(kSignOptions, "SignOptions", 123) \
  X(kBitcastOptions, "BitcastOptions", 124) \
  X(kBitwiseXorOptions, "BitwiseXorOptions", 125) \
  X(kRightShiftOptions, "RightShiftOptions", 126)

enum class BuiltinOptionsType : uint8_t {
#define CONVMEND_X(enumerator, name, code) enumerator = code,
  CONVMEND_TFLITE_BUILTIN_OPTIONS_TYPES(CONVMEND_X)
#undef CONVMEND_X
};

// X(enumerator, schema name, code, bits per element; 0 = variable size or opaque)
#define CONVMEND_TFLITE_TENSOR_TYPES(X) \
  X(kFloat32, "FLOAT32", 0, 32) \
  X(kFloat16, "FLOAT16", 1, 16) \
  X(kInt32, "INT32", 2, 32) \
  X(kUint8, "UINT8", 3, 8) \
  X(kInt64, "INT64", 4, 64) \
  X(kString, "STRING", 5, 0) \
  X(kBool, "BOOL", 6, 8) \
  X(kInt16, "INT16", 7, 16) \
  X(kComplex64, "COMPLEX64", 8, 64) \
  X(kInt8, "INT8", 9, 8) \
  X(kFloat64, "FLOAT64", 10, 64) \
  X(kComplex128, "COMPLEX128", 11, 128) \
  X(kUint64, "UINT64", 12, 64) \
  X(kResource, "RESOURCE", 13, 0) \
  X(kVariant, "VARIANT", 14, 0) \
  X(kUint32, "UINT32", 15, 32) \
  X(kUint16, "UINT16", 16, 16) \
  X(kInt4, "INT4", 17, 4) \
  X(kBfloat16, "BFLOAT16", 18, 16) \
  X(kInt2, "INT2", 19, 2) \
  X(kUint4, "UINT4", 20, 4)


enum class TensorType : int8_t {
#define CONVMEND_X(enumerator, name, code, bits) enumerator = code,
  CONVMEND_TFLITE_TENSOR_TYPES(CONVMEND_X)
#undef CONVMEND_X
};

enum class ActivationFunctionType : int8_t {
  kNone = 0,
  kRelu = 1,
  kReluN1To1 = 2,
  kRelu6 = 3,
  kTanh = 4,
  kSignBit = 5,
};

enum class Padding : int8_t {
  kSame = 0,
  kValid = 1,
};

// Tag of the QuantizationParameters.details union; convmend refuses anything but kNone.
enum class QuantizationDetailsType : uint8_t {
  kNone = 0,
  kCustomQuantization = 1,
  kBlockwiseQuantization = 2,
};

enum class CustomOptionsFormat : int8_t {
  kFlexbuffers = 0,
};

// Schema spelling ("CONV_2D"), or "" for a code this schema does not know.
std::string_view builtin_operator_name(BuiltinOperator op);
// Schema spelling ("Conv2DOptions"), or "" for an unknown tag.
std::string_view builtin_options_type_name(BuiltinOptionsType type);
// Schema spelling ("FLOAT32"), or "" for an unknown type.
std::string_view tensor_type_name(TensorType type);
// "CONV_2D" or "BuiltinOperator(300)", for messages.
std::string describe(BuiltinOperator op);
std::string describe(BuiltinOptionsType type);
std::string describe(TensorType type);

// Bits one element occupies in a constant buffer; 0 when the size is variable (STRING) or opaque
// (RESOURCE, VARIANT) or the type is unknown.
int tensor_type_bits(TensorType type);

// How one builtin-options field is stored. Enums are stored as their underlying integer:
// Padding, ActivationFunctionType and TensorType are int8.
enum class OptionKind : uint8_t {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFloat,
  kInt32Vector,
};

struct OptionFieldSpec {
  std::string_view name;  // schema spelling, snake_case ("stride_w")
  FieldId id;
  OptionKind kind;
  double default_value;  // ignored for kInt32Vector, whose default is "absent"
};

struct OptionsTableSpec {
  BuiltinOptionsType type;
  std::span<const OptionFieldSpec> fields;  // in field-id order
  FieldId field_count;  // slots in the schema, including deprecated ones we skip
};

// Descriptor of a builtin-options table convmend reads and writes; nullptr if unsupported.
// The returned spec is static and lives for the whole program.
const OptionsTableSpec* find_options_spec(BuiltinOptionsType type);

// All supported descriptors, for tests and tools.
std::span<const OptionsTableSpec> supported_options_specs();

// The options table the runtime reads for `op`, for operators whose options table convmend
// supports; std::nullopt for operators without options or with unsupported ones.
std::optional<BuiltinOptionsType> options_type_for_operator(BuiltinOperator op);

}  // namespace convmend::tflite
