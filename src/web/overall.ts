// The overall bar when several files go at once: one batch is every file started while another was
// still going, so a later single upload does not reopen the last batch's totals.
import { byId } from './dom.js';
import { formatBytes, formatDuration, formatRate, percentOf } from './format.js';
import type { UploadTask } from './upload-task.js';

export class OverallProgress {
  private batch: UploadTask[] = [];
  private readonly section = byId('overall');
  private readonly bar = byId<HTMLProgressElement>('overall-bar');
  private readonly text = byId('overall-text');

  add(task: UploadTask): void {
    if (!this.batch.some((t) => t.active)) this.batch = [];
    this.batch.push(task);
    this.update();
  }

  remove(task: UploadTask): void {
    this.batch = this.batch.filter((t) => t !== task);
    this.update();
  }

  update(): void {
    // Cancelled and failed files leave the totals: they will not be finished in this batch.
    const counted = this.batch.filter((t) => t.active || t.view.state === 'done');
    this.section.hidden = counted.length < 2;
    if (this.section.hidden) return;
    let acked = 0;
    let total = 0;
    let rate = 0;
    for (const t of counted) {
      const p = t.progress();
      acked += p.acked;
      total += p.total;
      rate += p.rate;
    }
    const done = counted.filter((t) => t.view.state === 'done').length;
    const pct = percentOf(acked, total);
    this.bar.value = pct;
    const parts = [`${done} of ${counted.length} files done`, `${formatBytes(acked)} of ${formatBytes(total)} (${pct} %)`];
    if (done < counted.length && rate > 0) parts.push(formatRate(rate), `${formatDuration((total - acked) / rate)} left`);
    this.text.textContent = parts.join(' · ');
  }
}
