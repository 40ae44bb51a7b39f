// The one line at the bottom of a terminal that is redrawn in place (a progress bar, "retrying…"),
// with finished lines printed above it. It is always kept one column narrower than the terminal:
// a line that reaches the last column, or wraps, cannot be erased with a carriage return.
import { fitEnd } from './output-width.js';

export interface LiveLine {
  /** Replaces the live line (cut to fit the terminal). */
  show(text: string): void;
  /** Prints a finished line above the live line, which stays. */
  log(line: string): void;
  /** Erases the live line; the cursor is left at the start of that now empty row. */
  clear(): void;
  /** Columns the live line may use. */
  width(): number;
}

const eraseLine = '\r\x1b[2K';

export function createLiveLine(stream: NodeJS.WriteStream): LiveLine {
  let current = '';
  const width = () => Math.max(10, (stream.columns || 80) - 1);
  return {
    show(text) {
      const line = fitEnd(text, width());
      if (line === current) return;
      current = line;
      stream.write(eraseLine + line);
    },
    log(line) {
      stream.write(eraseLine + line + '\n' + current);
    },
    clear() {
      if (current === '') return;
      current = '';
      stream.write(eraseLine);
    },
    width,
  };
}
