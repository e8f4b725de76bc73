/** How run.ts prints a suite's table: a title, a header and rows. */
export type Table = (title: string, header: string[], rows: (string | number)[][]) => void;
