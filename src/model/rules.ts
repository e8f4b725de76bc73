export interface RuleParams {
  /** Least number of transactions holding both items. */
  minPairCount: number;
  minConfidence: number;
  minLift: number;
  /** Most rules kept per antecedent (best confidence first). */
  maxPerItem: number;
  /** Transactions longer than this are cut to their first items, bounding the quadratic pair count. */
  maxTransactionItems: number;
}

/** Pairwise association rules A → B in CSR form by antecedent. */
export interface AssociationRules {
  numItems: number;
  transactions: number;
  /** What a transaction is: purchases+carts per session/day, or all events per user-day. */
  basis: string;
  params: RuleParams;
  indptr: Int32Array;
  consequent: Int32Array;
  support: Float32Array;
  confidence: Float32Array;
  lift: Float32Array;
}
