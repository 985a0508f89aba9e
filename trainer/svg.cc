#include "trainer/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fovea::trainer {
namespace {

constexpr double kChartWidth = 700, kChartHeight = 400;
constexpr double kMarginLeft = 70, kMarginRight = 210, kMarginTop = 40, kMarginBottom = 50;
constexpr int kYTicks = 5;
constexpr double kCell = 44, kMatrixLeft = 120, kMatrixTop = 60;

std::string Header(double width, double height) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height, width, height);
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string LineChartSvg(const std::string& title, const std::string& y_label, const std::vector<ChartSeries>& series) {
  double lo = INFINITY, hi = -INFINITY;
  size_t points = 1;
  for (const auto& s : series) {
    for (const double v : s.values) lo = std::min(lo, v), hi = std::max(hi, v);
    points = std::max(points, s.values.size());
  }
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double plot_w = kChartWidth - kMarginLeft - kMarginRight, plot_h = kChartHeight - kMarginTop - kMarginBottom;
  const auto x_of = [&](size_t i) {
    return kMarginLeft + (points > 1 ? plot_w * static_cast<double>(i) / static_cast<double>(points - 1) : plot_w / 2);
  };
  const auto y_of = [&](double v) { return kMarginTop + plot_h * (hi - v) / (hi - lo); };
  std::string svg = Header(kChartWidth, kChartHeight);
  svg += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"16\">{}</text>\n", kMarginLeft, XmlEscape(title));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n",
                     kMarginLeft, kMarginTop, plot_w, plot_h);
  for (int t = 0; t <= kYTicks; ++t) {
    const double v = lo + (hi - lo) * t / kYTicks;
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:.3f}</text>\n",
        kMarginLeft, kMarginLeft + plot_w, y_of(v), kMarginLeft - 6, y_of(v) + 4, v);
  }
  for (size_t i = 0; i < points; ++i) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x_of(i),
                       kMarginTop + plot_h + 18, i + 1);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n", kMarginLeft + plot_w / 2,
                     kChartHeight - 10);
  svg += fmt::format("<text transform=\"translate(16,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     kMarginTop + plot_h / 2, XmlEscape(y_label));
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    std::string path;
    for (size_t i = 0; i < s.values.size(); ++i)
      path += fmt::format("{}{:.1f},{:.1f} ", i ? "L" : "M", x_of(i), y_of(s.values[i]));
    svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", path, s.color);
    const double ly = kMarginTop + 16 + 20 * static_cast<double>(k);
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"3\"/>"
        "<text x=\"{4}\" y=\"{5}\">{6}</text>\n",
        kMarginLeft + plot_w + 12, kMarginLeft + plot_w + 32, ly, s.color, kMarginLeft + plot_w + 38, ly + 4,
        XmlEscape(s.name));
  }
  return svg + "</svg>\n";
}

std::string StackedChartsSvg(const std::vector<std::string>& charts) {
  std::string svg = Header(kChartWidth, kChartHeight * static_cast<double>(charts.size()));
  for (size_t i = 0; i < charts.size(); ++i) {
    // Each chart's own <svg> wrapper is dropped; its content is shifted down into its slot.
    const size_t begin = charts[i].find('>') + 1;
    const size_t end = charts[i].rfind("</svg>");
    svg += fmt::format("<g transform=\"translate(0,{:.0f})\">", kChartHeight * static_cast<double>(i)) +
           charts[i].substr(begin, end - begin) + "</g>\n";
  }
  return svg + "</svg>\n";
}

std::string ConfusionMatrixSvg(const std::vector<int64_t>& confusion, const std::vector<std::string>& labels) {
  const size_t k = labels.size();
  const double size = kCell * static_cast<double>(k);
  std::string svg = Header(kMatrixLeft + size + 80, kMatrixTop + size + 110);
  svg += "<text x=\"10\" y=\"24\" font-size=\"16\">Confusion matrix (rows: true class, columns: predicted)</text>\n";
  for (size_t t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (size_t p = 0; p < k; ++p) row_total += confusion[t * k + p];
    for (size_t p = 0; p < k; ++p) {
      const int64_t count = confusion[t * k + p];
      const double share = row_total > 0 ? static_cast<double>(count) / static_cast<double>(row_total) : 0.0;
      // Diagonal cells shade blue, errors red, so mistakes stand out even when small.
      const int fade = static_cast<int>(255 - 200 * std::sqrt(share));
      const std::string color = t == p ? fmt::format("rgb({0},{0},255)", fade) : fmt::format("rgb(255,{0},{0})", fade);
      const double x = kMatrixLeft + kCell * static_cast<double>(p), y = kMatrixTop + kCell * static_cast<double>(t);
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#fff\"/>"
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\n",
          x, y, kCell, kCell, color, x + kCell / 2, y + kCell / 2 + 4, count);
    }
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", kMatrixLeft - 6,
                       kMatrixTop + kCell * static_cast<double>(t) + kCell / 2 + 4, XmlEscape(labels[t]));
    const double cx = kMatrixLeft + kCell * static_cast<double>(t) + kCell / 2, cy = kMatrixTop + size + 8;
    svg += fmt::format("<text transform=\"translate({},{}) rotate(45)\">{}</text>\n", cx, cy, XmlEscape(labels[t]));
  }
  return svg + "</svg>\n";
}

}  // namespace fovea::trainer
