#pragma once
// report.md of a run: summary, a table of the per-epoch metrics and their plots.
#include <string>
#include <vector>

namespace nc {

class RunDir;

/// Writes `report.md` (atomically) plus loss.{svg,png} and accuracy.{svg,png} from the
/// run's metrics records whose "kind" is "epoch". Every numeric field becomes a column;
/// fields with "loss" in their name are plotted together, so are those with "acc".
/// `summary` lines are written as a bullet list above the table.
void write_run_report(const RunDir& run, const std::string& title,
                      const std::vector<std::string>& summary);

}  // namespace nc
