import { printTable } from '../util/table.js';
import type { EvaluationReport } from './evaluate.js';
import { type ModelReport, TWO_STAGE } from './rank-models.js';

const f4 = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(4));

/** The evaluation report as readable tables on stdout. */
export function printEvaluation(r: EvaluationReport): void {
  printModels(
    `quality on ${r.data.path} (${r.split.testUsersCounted} test users, ${r.split.trainEvents} train / ${r.split.testEvents} test events)`,
    r.models,
  );
  const twoStage = r.models[TWO_STAGE];
  console.log(
    `  test interactions repeating a train item, not counted (protocol): ${(100 * twoStage.repeatShare).toFixed(1)}%`,
  );
  if (r.ease.source === 'skipped') console.log(`  EASE skipped: ${r.ease.chosenBy}`);
  else
    console.log(
      `  two-stage NDCG@10 / EASE NDCG@10 = ${Number.isNaN(r.twoStageVsEase) ? '-' : r.twoStageVsEase.toFixed(3)}  (EASE lambda ${r.ease.lambda}: ${r.ease.chosenBy}; ${r.ease.source})`,
    );
  const rk = r.ranker;
  printTable(
    `ranker as a classifier (test candidates, ${rk.negativesPerPositive} sampled negatives per positive, threshold ${rk.threshold})`,
    [
      ['rows / positives', `${rk.rows} / ${rk.positives}`],
      ['AUC', f4(rk.auc)],
      ['log-loss', f4(rk.logLoss)],
      ['accuracy', f4(rk.accuracy)],
      ['precision', f4(rk.precision)],
      ['recall', f4(rk.recall)],
      ['F1', f4(rk.f1)],
    ],
  );
  printPropensity(r);
  printTable('retrieval', [
    [
      'candidates (HNSW + item-kNN + followers + chain + attributes)',
      `${r.retrieval.candidates} + ${r.retrieval.knnCandidates} + ${r.retrieval.followCandidates} + ${r.retrieval.chainCandidates} + ${r.retrieval.attributeCandidates}`,
    ],
    [`HNSW retrieval Recall@${r.retrieval.candidates} (protocol test items)`, f4(r.retrieval.hnswRecallAtCandidates)],
    ['test items among all candidates (ranker test rows)', f4(r.retrieval['recall@candidates'])],
    [
      '  of which found by',
      Object.entries(r.retrieval.recallBySource)
        .map(([s, v]) => `${s} ${f4(v)}`)
        .join(', '),
    ],
    [
      'HNSW recall@200 vs exact search',
      `${f4(r.retrieval.hnswRecallAt200VsExact)} at efSearch ${r.retrieval.efSearch}`,
    ],
  ]);
  if (r.repeats) {
    printModels(
      `where repeats count (${r.repeats.testUsersCounted} test users; ${(100 * r.repeats.repeatShare).toFixed(1)}% of test interactions repeat a train item): ${r.repeats.protocol}`,
      r.repeats.models,
    );
  }
}

/** The ranker's probability as a purchase propensity, and its reliability curve (older reports lack it). */
function printPropensity(r: EvaluationReport): void {
  const p = r.propensity;
  if (!p) return;
  const m = p.metrics;
  printTable(
    `propensity (${p.model ?? 'ranker'}) against ${p.label === 'purchase' ? 'purchases' : 'any interaction'} (${p.note})`,
    [
      ['rows / positives', `${m.rows} / ${m.positives}`],
      ['AUC', f4(m.auc)],
      ['log-loss', f4(m.logLoss)],
      ['precision / recall / F1', `${f4(m.precision)} / ${f4(m.recall)} / ${f4(m.f1)}`],
      ['calibration error (ECE)', f4(p.calibration.ece)],
    ],
  );
  printTable(
    'reliability curve (predicted probability bins: rows, mean predicted, observed rate)',
    p.calibration.bins.map((b) => [
      `${b.lo.toFixed(1)}-${b.hi.toFixed(1)}`,
      b.rows,
      f4(b.meanPredicted),
      f4(b.observedRate),
      p.label === 'purchase' ? f4(p.interactionCalibration.bins.find((x) => x.lo === b.lo)?.observedRate) : '',
    ]),
    ['bin', 'rows', 'predicted', 'observed', p.label === 'purchase' ? 'observed (any interaction)' : ''],
  );
}

function printModels(title: string, models: Record<string, ModelReport>): void {
  const truth = Object.values(models).some((m) => m['truth@10'] !== undefined);
  const header = [
    'model',
    'NDCG@10',
    'Recall@10',
    'HR@10',
    'MRR@10',
    'Recall@50',
    'Coverage@10',
    ...(truth ? ['Truth@10'] : []),
    'seconds',
  ];
  const rows = Object.entries(models).map(([name, m]) => [
    name,
    f4(m['ndcg@10']),
    f4(m['recall@10']),
    f4(m['hr@10']),
    f4(m['mrr@10']),
    f4(m['recall@50']),
    f4(m['coverage@10']),
    ...(truth ? [f4(m['truth@10'])] : []),
    m.seconds.toFixed(1),
  ]);
  printTable(title, rows, header);
}
