#pragma once
// Dependency-free SVG pictures for the training report: line charts (training curves) and a confusion matrix.

#include <string>
#include <vector>

namespace fovea::trainer {

// One line of a chart: y values at x = 1, 2, ... (epochs).
struct ChartSeries {
  std::string name;
  std::string color;  // CSS color
  std::vector<double> values;
};

// A line chart with axes, ticks, a legend and a title; y range fits every series.
std::string LineChartSvg(const std::string& title, const std::string& y_label, const std::vector<ChartSeries>& series);

// Line charts from LineChartSvg stacked vertically in one picture.
std::string StackedChartsSvg(const std::vector<std::string>& charts);

// A confusion matrix heat map: rows = true class, columns = predicted, cells shaded by row-normalized count and
// labelled with the count.
std::string ConfusionMatrixSvg(const std::vector<int64_t>& confusion, const std::vector<std::string>& labels);

// `text` with &, <, >, " escaped for XML.
std::string XmlEscape(const std::string& text);

}  // namespace fovea::trainer
