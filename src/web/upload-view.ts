// One upload on the page: name, size, progress bar, numbers, a status line and its buttons. Only
// draws; UploadTask decides what to show.
import type { Progress } from '../client/index.js';
import { h } from './dom.js';
import { formatBytes, formatDuration, formatRate, percentOf } from './format.js';

/** Done and cancelled rows are over and may be tucked away; the others (failed too) still want attention. */
export function isFinished(state: ViewState): boolean {
  return state === 'done' || state === 'cancelled';
}

export type ViewState = 'starting' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';
export type MessageKind = 'info' | 'warning' | 'error' | 'success';

export interface ViewActions {
  pause(): void;
  resume(): void;
  cancel(): void;
  retry(): void;
  dismiss(): void;
}

let nextViewId = 1;

export class UploadView {
  readonly element: HTMLLIElement;
  private readonly bar: HTMLProgressElement;
  private readonly percent = h('span', { class: 'percent' }, '0 %');
  private readonly bytes = h('span', { class: 'bytes' });
  private readonly speed = h('span', { class: 'speed' });
  private readonly eta = h('span', { class: 'eta' });
  private readonly inFlight = h('span', { class: 'in-flight' });
  private readonly message: HTMLParagraphElement;
  private readonly actions = h('div', { class: 'actions' });
  private readonly result = h('div', { class: 'result' });
  private current: ViewState | null = null;
  /** "Retry now", while requests wait to be retried. */
  private retryNow: HTMLButtonElement | null = null;

  constructor(
    private readonly name: string,
    private readonly size: number,
    private readonly on: ViewActions,
  ) {
    const id = `upload-${nextViewId++}`;
    this.bar = h('progress', { max: 100, value: 0, 'aria-labelledby': `${id}-name`, 'aria-describedby': `${id}-stats` });
    // Polite status line: phase changes and problems are read out; the numbers beside the bar are not.
    this.message = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
    this.element = h(
      'li',
      { class: 'upload', 'data-state': 'starting' },
      h('div', { class: 'upload-head' }, h('span', { class: 'name', id: `${id}-name` }, name), h('span', { class: 'size' }, formatBytes(size))),
      this.bar,
      h('div', { class: 'stats', id: `${id}-stats` }, this.percent, this.bytes, this.speed, this.eta, this.inFlight),
      this.message,
      this.result,
      this.actions,
    );
    this.bytes.textContent = `0 of ${formatBytes(size)}`;
    this.setState('starting');
  }

  /** `stalled`: requests are failing and waiting to be retried, so speed and ETA mean nothing now. */
  showProgress(p: Progress, stalled = false): void {
    const total = p.totalBytes || this.size;
    const pct = percentOf(p.bytesAcked, total);
    this.bar.value = pct;
    this.percent.textContent = `${pct} %`;
    this.bytes.textContent = `${formatBytes(p.bytesAcked)} of ${formatBytes(total)}`;
    const moving = p.phase === 'transferring' && !stalled;
    this.speed.textContent = moving ? formatRate(p.rate) : '';
    this.eta.textContent = moving && p.etaSeconds !== null ? `${formatDuration(p.etaSeconds)} left` : '';
    // While requests wait for their retry nothing is on the wire, whatever the scheduler still counts.
    const inFlight = stalled ? 0 : p.inFlight;
    this.inFlight.textContent = p.phase === 'done' ? '' : `${inFlight} ${inFlight === 1 ? 'chunk' : 'chunks'} in flight`;
  }

  setMessage(text: string, kind: MessageKind = 'info'): void {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }

  /** Offers "Retry now" (`action`) beside the other buttons, or takes it away (null). */
  setRetryNow(action: (() => void) | null): void {
    if (action === null) {
      if (!this.retryNow) return;
      const hadFocus = document.activeElement === this.retryNow;
      this.retryNow.remove();
      this.retryNow = null;
      if (hadFocus) this.focus();
      return;
    }
    if (this.retryNow) return;
    this.retryNow = this.button('Retry now', action, 'primary');
    this.actions.append(this.retryNow);
  }

  /** Focus to the row's first button or link (its main action); false when it has none. */
  focus(): boolean {
    const target = this.element.querySelector<HTMLElement>('.actions button, .result a, .result button');
    target?.focus();
    return target !== null;
  }

  get state(): ViewState {
    return this.current ?? 'starting';
  }

  /**
   * Sets the state and the buttons that go with it (unchanged state: buttons stay, so clicks land).
   * `retryable`: a failed upload offers "Try again" only when trying again could help.
   */
  setState(state: ViewState, retryable = true): void {
    if (state === this.current) return;
    this.current = state;
    this.element.dataset.state = state;
    const button = (label: string, action: () => void, cls = 'secondary') => this.button(label, action, cls);
    // Keep focus on the pause/resume button when it swaps, so a keyboard user can toggle again.
    const hadFocus = this.actions.contains(document.activeElement);
    const buttons: HTMLButtonElement[] = [];
    if (state === 'starting' || state === 'running') buttons.push(button('Pause', this.on.pause), button('Cancel', this.on.cancel, 'danger'));
    if (state === 'paused') buttons.push(button('Resume', this.on.resume, 'primary'), button('Cancel', this.on.cancel, 'danger'));
    if (state === 'failed' && retryable) buttons.push(button('Try again', this.on.retry, 'primary'));
    if (state === 'failed') buttons.push(button('Dismiss', this.on.dismiss));
    if (state === 'cancelled' || state === 'done') buttons.push(button('Dismiss', this.on.dismiss));
    this.actions.replaceChildren(...buttons);
    if (this.retryNow && !isFinished(state) && state !== 'failed') this.actions.append(this.retryNow);
    else this.retryNow = null;
    if (hadFocus) buttons[0]?.focus();
    if (state === 'failed') this.message.setAttribute('role', 'alert');
    else this.message.setAttribute('role', 'status');
  }

  /** A button named for its file too ("Pause report.pdf"): visible words first, as WCAG's label-in-name asks. */
  private button(label: string, action: () => void, cls: string): HTMLButtonElement {
    const b = h('button', { type: 'button', class: cls, 'aria-label': `${label} ${this.name}` }, label);
    b.addEventListener('click', action);
    return b;
  }

  /** `links`: the file's Download link and copy button, as the credential allows (FileActions). */
  showDone(links: Node[]): void {
    this.bar.value = 100;
    this.percent.textContent = '100 %';
    this.result.replaceChildren(...links);
  }
}
