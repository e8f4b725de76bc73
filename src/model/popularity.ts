/** Per-item popularity and what is trending as of the bundle's data end. */
export interface Popularity {
  /** Interactions per item in the training events. */
  count: Float32Array;
  /** Exponentially time-decayed interactions at `referenceTime` (what is trending now). */
  trending: Float32Array;
  /** Time of each item's first and last interaction (NaN if none). */
  firstSeen: Float64Array;
  lastSeen: Float64Array;
  /** Share of each item's shoppers who came back to it on a later date (0 with no shoppers). */
  repeatShare: Float32Array;
  /** Mean days between one shopper's visits to the item, over those who came back (NaN if none did). */
  repeatDays: Float32Array;
  halfLifeDays: number;
  referenceTime: number;
}
