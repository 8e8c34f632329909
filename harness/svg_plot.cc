#include "harness/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hpo::harness {
namespace {

// Colour-blind-friendly palette (Okabe-Ito), then repeats.
constexpr const char* kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

std::string TickLabel(double v) {
  if (std::fabs(v) < 1e-12) return "0";
  return absl::StrFormat("%.3g", v);
}

void DataRange(const std::vector<Series>& series, bool use_x, double& lo, double& hi) {
  if (lo < hi) return;
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      const double v = use_x ? s.x[i] : s.y[i];
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  } else if (!use_x) {
    const double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
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

std::string LinePlotSvg(const PlotOptions& o, const std::vector<Series>& series) {
  double x_lo = o.x_lo, x_hi = o.x_hi, y_lo = o.y_lo, y_hi = o.y_hi;
  DataRange(series, true, x_lo, x_hi);
  DataRange(series, false, y_lo, y_hi);
  const double legend_w = 170;
  const double left = 70, right = o.width - legend_w, top = 40, bottom = o.height - 55;
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * (right - left); };
  auto py = [&](double y) { return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top); };

  std::string svg = absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", o.width,
                                 "\" height=\"", o.height, "\" viewBox=\"0 0 ", o.width, " ",
                                 o.height, "\" font-family=\"sans-serif\" font-size=\"12\">\n",
                                 "<rect width=\"100%\" height=\"100%\" "
                                 "fill=\"white\"/>\n");
  absl::StrAppend(&svg, "<text x=\"", Num((left + right) / 2),
                  "\" y=\"22\" text-anchor=\"middle\" "
                  "font-size=\"15\">",
                  XmlEscape(o.title), "</text>\n");
  // Frame and grid with ticks.
  absl::StrAppend(&svg, "<rect x=\"", Num(left), "\" y=\"", Num(top), "\" width=\"",
                  Num(right - left), "\" height=\"", Num(bottom - top),
                  "\" fill=\"none\" stroke=\"#333\"/>\n");
  constexpr int kTicks = 5;
  for (int i = 0; i <= kTicks; ++i) {
    const double xv = x_lo + (x_hi - x_lo) * i / kTicks;
    const double yv = y_lo + (y_hi - y_lo) * i / kTicks;
    absl::StrAppend(&svg, "<line x1=\"", Num(px(xv)), "\" y1=\"", Num(top), "\" x2=\"", Num(px(xv)),
                    "\" y2=\"", Num(bottom), "\" stroke=\"#ddd\"/>\n");
    absl::StrAppend(&svg, "<text x=\"", Num(px(xv)), "\" y=\"", Num(bottom + 16),
                    "\" text-anchor=\"middle\">", TickLabel(xv), "</text>\n");
    absl::StrAppend(&svg, "<line x1=\"", Num(left), "\" y1=\"", Num(py(yv)), "\" x2=\"", Num(right),
                    "\" y2=\"", Num(py(yv)), "\" stroke=\"#ddd\"/>\n");
    absl::StrAppend(&svg, "<text x=\"", Num(left - 6), "\" y=\"", Num(py(yv) + 4),
                    "\" text-anchor=\"end\">", TickLabel(yv), "</text>\n");
  }
  absl::StrAppend(&svg, "<text x=\"", Num((left + right) / 2), "\" y=\"", Num(o.height - 15),
                  "\" text-anchor=\"middle\">", XmlEscape(o.x_label), "</text>\n");
  absl::StrAppend(&svg, "<text x=\"16\" y=\"", Num((top + bottom) / 2),
                  "\" text-anchor=\"middle\" transform=\"rotate(-90 16 ", Num((top + bottom) / 2),
                  ")\">", XmlEscape(o.y_label), "</text>\n");
  // Series and legend.
  for (size_t s = 0; s < series.size(); ++s) {
    const char* color = kColors[s % (sizeof(kColors) / sizeof(kColors[0]))];
    std::string points;
    for (size_t i = 0; i < series[s].x.size() && i < series[s].y.size(); ++i) {
      const double x = series[s].x[i], y = series[s].y[i];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      const double cy = std::clamp(py(y), top, bottom);
      absl::StrAppend(&points, points.empty() ? "" : " ", Num(px(x)), ",", Num(cy));
    }
    absl::StrAppend(&svg, "<polyline fill=\"none\" stroke=\"", color,
                    "\" stroke-width=\"2\" points=\"", points, "\"><title>",
                    XmlEscape(series[s].name), "</title></polyline>\n");
    const double ly = top + 10 + 20 * static_cast<double>(s);
    absl::StrAppend(&svg, "<line x1=\"", Num(right + 15), "\" y1=\"", Num(ly), "\" x2=\"",
                    Num(right + 40), "\" y2=\"", Num(ly), "\" stroke=\"", color,
                    "\" stroke-width=\"3\"/>\n");
    absl::StrAppend(&svg, "<text x=\"", Num(right + 46), "\" y=\"", Num(ly + 4), "\">",
                    XmlEscape(series[s].name), "</text>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace hpo::harness
