#include "cli/report.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace vaultca {
namespace cli {

absl::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "PASS";
    case Verdict::kWarn:
      return "WARN";
    case Verdict::kFail:
      return "FAIL";
  }
  return "FAIL";
}

void Report::Pass(std::string check, std::string detail) {
  lines_.push_back({Verdict::kPass, std::move(check), std::move(detail)});
}
void Report::Warn(std::string check, std::string detail) {
  lines_.push_back({Verdict::kWarn, std::move(check), std::move(detail)});
}
void Report::Fail(std::string check, std::string detail) {
  lines_.push_back({Verdict::kFail, std::move(check), std::move(detail)});
}

bool Report::failed() const {
  for (const ReportLine& line : lines_) {
    if (line.verdict == Verdict::kFail) return true;
  }
  return false;
}

std::string Report::FirstFailure() const {
  for (const ReportLine& line : lines_) {
    if (line.verdict == Verdict::kFail) return RenderLine(line);
  }
  return "";
}

std::string RenderLine(const ReportLine& line) {
  return absl::StrCat(VerdictName(line.verdict), "  ", line.check, ": ",
                      line.detail);
}

std::string Report::Render() const {
  std::string out;
  int counts[3] = {0, 0, 0};
  for (const ReportLine& line : lines_) {
    absl::StrAppend(&out, RenderLine(line), "\n");
    ++counts[static_cast<int>(line.verdict)];
  }
  absl::StrAppend(&out, counts[2] > 0 ? "FAILED" : "OK", ": ", counts[0],
                  " passed, ", counts[1], " warnings, ", counts[2],
                  " failed\n");
  return out;
}

}  // namespace cli
}  // namespace vaultca
