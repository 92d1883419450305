package main

// The closed value sets of the foundation SDK's enum types (Grafana's schemas declare them as
// string enums; the Go types are plain strings, so the SDK's decoder takes any value). Listed by
// the SDK's own constants, so a constant the pinned SDK does not have fails to compile; this
// list was produced from the pinned SDK's common, dashboard and prometheus packages, every
// `type X string` with its `const` block.

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

func registerEnums() {
	registerEnum(common.DataTopicSeries, common.DataTopicAnnotations, common.DataTopicAlertStates)
	registerEnum(common.ScaleDimensionModeLinear, common.ScaleDimensionModeQuad)
	registerEnum(common.ScalarDimensionModeMod, common.ScalarDimensionModeClamped)
	registerEnum(common.TextDimensionModeFixed, common.TextDimensionModeField, common.TextDimensionModeTemplate)
	registerEnum(common.ResourceDimensionModeFixed, common.ResourceDimensionModeField, common.ResourceDimensionModeMapping)
	registerEnum(common.FrameGeometrySourceModeAuto, common.FrameGeometrySourceModeGeohash, common.FrameGeometrySourceModeCoords, common.FrameGeometrySourceModeLookup)
	registerEnum(common.HeatmapCalculationModeSize, common.HeatmapCalculationModeCount)
	registerEnum(common.HeatmapCellLayoutLe, common.HeatmapCellLayoutGe, common.HeatmapCellLayoutUnknown, common.HeatmapCellLayoutAuto)
	registerEnum(common.ScaleDistributionLinear, common.ScaleDistributionLog, common.ScaleDistributionOrdinal, common.ScaleDistributionSymlog)
	registerEnum(common.LogsSortOrderDescending, common.LogsSortOrderAscending)
	registerEnum(common.AxisPlacementAuto, common.AxisPlacementTop, common.AxisPlacementRight, common.AxisPlacementBottom, common.AxisPlacementLeft, common.AxisPlacementHidden)
	registerEnum(common.AxisColorModeText, common.AxisColorModeSeries)
	registerEnum(common.VisibilityModeAuto, common.VisibilityModeNever, common.VisibilityModeAlways)
	registerEnum(common.GraphDrawStyleLine, common.GraphDrawStyleBars, common.GraphDrawStylePoints)
	registerEnum(common.GraphTransformConstant, common.GraphTransformNegativeY)
	registerEnum(common.LineInterpolationLinear, common.LineInterpolationSmooth, common.LineInterpolationStepBefore, common.LineInterpolationStepAfter)
	registerEnum(common.GraphGradientModeNone, common.GraphGradientModeOpacity, common.GraphGradientModeHue, common.GraphGradientModeScheme)
	registerEnum(common.StackingModeNone, common.StackingModeNormal, common.StackingModePercent)
	registerEnum(common.GraphThresholdsStyleModeOff, common.GraphThresholdsStyleModeLine, common.GraphThresholdsStyleModeDashed, common.GraphThresholdsStyleModeArea, common.GraphThresholdsStyleModeLineAndArea, common.GraphThresholdsStyleModeDashedAndArea, common.GraphThresholdsStyleModeSeries)
	registerEnum(common.LegendPlacementBottom, common.LegendPlacementRight)
	registerEnum(common.LegendDisplayModeList, common.LegendDisplayModeTable, common.LegendDisplayModeHidden)
	registerEnum(common.VizOrientationAuto, common.VizOrientationVertical, common.VizOrientationHorizontal)
	registerEnum(common.TooltipDisplayModeSingle, common.TooltipDisplayModeMulti, common.TooltipDisplayModeNone)
	registerEnum(common.SortOrderAscending, common.SortOrderDescending, common.SortOrderNone)
	registerEnum(common.BigValueColorModeValue, common.BigValueColorModeBackground, common.BigValueColorModeBackgroundSolid, common.BigValueColorModeNone)
	registerEnum(common.BigValueGraphModeNone, common.BigValueGraphModeLine, common.BigValueGraphModeArea)
	registerEnum(common.BigValueJustifyModeAuto, common.BigValueJustifyModeCenter)
	registerEnum(common.BigValueTextModeAuto, common.BigValueTextModeValue, common.BigValueTextModeValueAndName, common.BigValueTextModeName, common.BigValueTextModeNone)
	registerEnum(common.PercentChangeColorModeStandard, common.PercentChangeColorModeInverted, common.PercentChangeColorModeSameAsValue)
	registerEnum(common.FieldTextAlignmentAuto, common.FieldTextAlignmentLeft, common.FieldTextAlignmentRight, common.FieldTextAlignmentCenter)
	registerEnum(common.TimelineValueAlignmentCenter, common.TimelineValueAlignmentLeft, common.TimelineValueAlignmentRight)
	registerEnum(common.BarGaugeDisplayModeBasic, common.BarGaugeDisplayModeLcd, common.BarGaugeDisplayModeGradient)
	registerEnum(common.BarGaugeValueModeColor, common.BarGaugeValueModeText, common.BarGaugeValueModeHidden)
	registerEnum(common.BarGaugeNamePlacementAuto, common.BarGaugeNamePlacementTop, common.BarGaugeNamePlacementLeft, common.BarGaugeNamePlacementHidden)
	registerEnum(common.BarGaugeSizingAuto, common.BarGaugeSizingManual)
	registerEnum(common.TableCellDisplayModeAuto, common.TableCellDisplayModeColorText, common.TableCellDisplayModeColorBackground, common.TableCellDisplayModeColorBackgroundSolid, common.TableCellDisplayModeGradientGauge, common.TableCellDisplayModeLcdGauge, common.TableCellDisplayModeJSONView, common.TableCellDisplayModeBasicGauge, common.TableCellDisplayModeImage, common.TableCellDisplayModeGauge, common.TableCellDisplayModeSparkline, common.TableCellDisplayModeDataLinks, common.TableCellDisplayModeCustom, common.TableCellDisplayModeActions)
	registerEnum(common.TableCellBackgroundDisplayModeBasic, common.TableCellBackgroundDisplayModeGradient)
	registerEnum(common.TableCellHeightSm, common.TableCellHeightMd, common.TableCellHeightLg, common.TableCellHeightAuto)
	registerEnum(common.VariableFormatIDLucene, common.VariableFormatIDRaw, common.VariableFormatIDRegex, common.VariableFormatIDPipe, common.VariableFormatIDDistributed, common.VariableFormatIDCSV, common.VariableFormatIDHTML, common.VariableFormatIDJSON, common.VariableFormatIDPercentEncode, common.VariableFormatIDUriEncode, common.VariableFormatIDSingleQuote, common.VariableFormatIDDoubleQuote, common.VariableFormatIDSQLString, common.VariableFormatIDDate, common.VariableFormatIDGlob, common.VariableFormatIDText, common.VariableFormatIDQueryParam)
	registerEnum(common.LogsDedupStrategyNone, common.LogsDedupStrategyExact, common.LogsDedupStrategyNumbers, common.LogsDedupStrategySignature)
	registerEnum(common.ComparisonOperationEQ, common.ComparisonOperationNEQ, common.ComparisonOperationLT, common.ComparisonOperationLTE, common.ComparisonOperationGT, common.ComparisonOperationGTE)
	registerEnum(common.LineStyleFillSolid, common.LineStyleFillDash, common.LineStyleFillDot, common.LineStyleFillSquare)
	registerEnum(dashboard.DashboardLinkTypeLink, dashboard.DashboardLinkTypeDashboards)
	registerEnum(dashboard.DashboardLinkPlacementInControlsMenu)
	registerEnum(dashboard.MappingTypeValueToText, dashboard.MappingTypeRangeToText, dashboard.MappingTypeRegexToText, dashboard.MappingTypeSpecialValue)
	registerEnum(dashboard.SpecialValueMatchTrue, dashboard.SpecialValueMatchFalse, dashboard.SpecialValueMatchNull, dashboard.SpecialValueMatchNaN, dashboard.SpecialValueMatchNullAndNan, dashboard.SpecialValueMatchEmpty)
	registerEnum(dashboard.ThresholdsModeAbsolute, dashboard.ThresholdsModePercentage)
	registerEnum(dashboard.FieldColorModeIdThresholds, dashboard.FieldColorModeIdPaletteClassic, dashboard.FieldColorModeIdPaletteClassicByName, dashboard.FieldColorModeIdContinuousGrYlRd, dashboard.FieldColorModeIdContinuousRdYlGr, dashboard.FieldColorModeIdContinuousBlYlRd, dashboard.FieldColorModeIdContinuousYlRd, dashboard.FieldColorModeIdContinuousBlPu, dashboard.FieldColorModeIdContinuousYlBl, dashboard.FieldColorModeIdContinuousBlues, dashboard.FieldColorModeIdContinuousReds, dashboard.FieldColorModeIdContinuousGreens, dashboard.FieldColorModeIdContinuousPurples, dashboard.FieldColorModeIdFixed, dashboard.FieldColorModeIdShades)
	registerEnum(dashboard.FieldColorSeriesByModeMin, dashboard.FieldColorSeriesByModeMax, dashboard.FieldColorSeriesByModeLast)
	registerEnum(dashboard.ActionTypeFetch, dashboard.ActionTypeInfinity)
	registerEnum(dashboard.HttpRequestMethodGET, dashboard.HttpRequestMethodPUT, dashboard.HttpRequestMethodPOST, dashboard.HttpRequestMethodDELETE, dashboard.HttpRequestMethodPATCH)
	registerEnum(dashboard.ActionVariableTypeString)
	registerEnum(dashboard.VariableTypeQuery, dashboard.VariableTypeAdhoc, dashboard.VariableTypeGroupby, dashboard.VariableTypeConstant, dashboard.VariableTypeDatasource, dashboard.VariableTypeInterval, dashboard.VariableTypeTextbox, dashboard.VariableTypeCustom, dashboard.VariableTypeSystem, dashboard.VariableTypeSnapshot, dashboard.VariableTypeSwitch)
	registerEnum(dashboard.AnnotationQueryPlacementInControlsMenu)
	registerEnum(dashboard.AnnotationEventFieldSourceField, dashboard.AnnotationEventFieldSourceText, dashboard.AnnotationEventFieldSourceSkip)
	registerEnum(dashboard.PanelRepeatDirectionH, dashboard.PanelRepeatDirectionV)
	registerEnum(dashboard.DataTransformerConfigTopicSeries, dashboard.DataTransformerConfigTopicAnnotations, dashboard.DataTransformerConfigTopicAlertStates)
	registerEnum(dashboard.VariableModelStaticOptionsOrderBefore, dashboard.VariableModelStaticOptionsOrderAfter, dashboard.VariableModelStaticOptionsOrderSorted)
	registerEnum(prometheus.ResultAssertionsTypeNone, prometheus.ResultAssertionsTypeTimeseriesWide, prometheus.ResultAssertionsTypeTimeseriesLong, prometheus.ResultAssertionsTypeTimeseriesMany, prometheus.ResultAssertionsTypeTimeseriesMulti, prometheus.ResultAssertionsTypeDirectoryListing, prometheus.ResultAssertionsTypeTable, prometheus.ResultAssertionsTypeNumericWide, prometheus.ResultAssertionsTypeNumericMulti, prometheus.ResultAssertionsTypeNumericLong, prometheus.ResultAssertionsTypeLogLines)
	registerEnum(prometheus.QueryEditorModeBuilder, prometheus.QueryEditorModeCode)
	registerEnum(prometheus.PromQueryFormatTimeSeries, prometheus.PromQueryFormatTable, prometheus.PromQueryFormatHeatmap)
}
