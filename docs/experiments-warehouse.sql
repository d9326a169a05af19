-- The layer-1 estimates `vitrine exp analyze` prints, from a warehouse copy of the collector's
-- `report_values` table (one row per report and metric: experiment, arm, report_id, metric,
-- value ∈ {0, 1}) and a table `metric_params(experiment, metric, q, lo, hi)` written from the
-- manifest: q = e^ε / (1 + e^ε), the randomized-response keep probability of the metric's ε (the
-- device rounds it down by less than 10⁻⁹, which moves no estimate by more than 10⁻⁸); lo, hi the
-- value's range (bits: 0 and 1; bounded values: their min and max; ope_ips / ope_weight: 0 and
-- clip; ope_dr: −clip·max(top, rest) and 1 + clip·(1 − min(top, rest))).
-- Bind :experiment to the experiment id. Plain SQL (no math functions): it returns the variance
-- of each mean; its square root is the standard error.
WITH sums AS (
  SELECT arm, metric, COUNT(*) AS n, SUM(value) AS ones
  FROM report_values
  WHERE experiment = :experiment
  GROUP BY arm, metric
), p AS (
  SELECT s.arm, s.metric, s.n, m.lo, m.hi, m.q,
         1.0 * s.ones / s.n AS share
  FROM sums s
  JOIN metric_params m ON m.experiment = :experiment AND m.metric = s.metric
)
SELECT arm, metric, n,
       lo + (hi - lo) * (share - (1.0 - q)) / (2.0 * q - 1.0)  AS mean,
       (hi - lo) * (hi - lo) * share * (1.0 - share) / (n - 1)
         / ((2.0 * q - 1.0) * (2.0 * q - 1.0))                  AS variance
FROM p
ORDER BY metric, arm;
-- The lift of a treatment over the control: mean_t − mean_c with variance variance_t + variance_c;
-- the 95 % interval is the lift ± 1.96 √variance.
