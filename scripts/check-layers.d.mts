/** Types for check-layers.mjs, which runs without a build step. */
export declare const ALLOWED: Record<string, string[]>;
export declare function checkLayers(src: string): { edges: Map<string, number>; violations: string[] };
