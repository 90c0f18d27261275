#ifndef VAULTCA_CLI_REPORT_H_
#define VAULTCA_CLI_REPORT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vaultca {
namespace cli {

enum class Verdict { kPass, kWarn, kFail };

// Returns "PASS", "WARN" or "FAIL".
absl::string_view VerdictName(Verdict verdict);

// One line per check, in the order the checks ran.
struct ReportLine {
  Verdict verdict;
  std::string check;   // Short name, e.g. "vault login".
  std::string detail;  // What was found, and for a failure what to fix.
};

// A readable report of checks for an operator, cron or CI.
class Report {
 public:
  void Pass(std::string check, std::string detail);
  void Warn(std::string check, std::string detail);
  void Fail(std::string check, std::string detail);

  const std::vector<ReportLine>& lines() const { return lines_; }
  bool failed() const;
  // The first failure's line, rendered; empty when nothing failed.
  std::string FirstFailure() const;
  // "PASS  check: detail" lines and a closing summary line.
  std::string Render() const;

 private:
  std::vector<ReportLine> lines_;
};

// Renders one line as Render does.
std::string RenderLine(const ReportLine& line);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_REPORT_H_
