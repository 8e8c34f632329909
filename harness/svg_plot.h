// Line plots as hand-written SVG: axes with ticks, one polyline per series, a legend.
#ifndef HPO_HARNESS_SVG_PLOT_H_
#define HPO_HARNESS_SVG_PLOT_H_

#include <string>
#include <vector>

namespace hpo::harness {

struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;  // same length as x; non-finite points are left out
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  // Axis ranges; when lo >= hi the range is taken from the data (padded a little).
  double x_lo = 0, x_hi = 0;
  double y_lo = 0, y_hi = 0;
  int width = 720;
  int height = 420;
};

// A complete SVG document ("<svg xmlns=... >...</svg>\n"). Text is XML-escaped. Pure.
std::string LinePlotSvg(const PlotOptions& options, const std::vector<Series>& series);

// `text` with &, <, >, " escaped for XML.
std::string XmlEscape(const std::string& text);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_SVG_PLOT_H_
