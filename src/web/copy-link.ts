// "Copy link" buttons: the clipboard API where the page may use it, else the link is selected in a
// text field for the person to copy (plain-HTTP pages on another host get no clipboard API). The link
// is either known (a file's URL) or made on click (a share link the server signs).
import { announce, h } from './dom.js';

/** A link made on click, with what to say once it is copied ("Link copied" when absent). */
export interface LinkToCopy {
  url: string;
  copied?: string;
}

export interface CopyLinkOptions {
  /** The button's text. */
  label?: string;
  /** The file the link is for: part of the button's accessible name ("Copy link to report.pdf"). */
  name?: string;
  /** Why making the link failed, in a sentence (for links made on click). */
  describeError?(error: unknown): string;
}

/** A button that copies `link`; the result is said next to it and through the live region. */
export function copyLinkButton(link: string | (() => Promise<LinkToCopy>), options: CopyLinkOptions = {}): HTMLElement {
  const label = options.label ?? 'Copy link';
  const note = h('span', { class: 'copy-note', 'aria-live': 'polite' });
  // The visible words first, then the file ("Copy link to report.pdf"): a list of buttons read out alone still says which file each is for.
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': options.name ? `${label} to ${options.name}` : undefined }, label);
  let busy = false; // a second click while the link is being made does nothing (not disabled: focus stays)
  button.addEventListener('click', () => {
    if (busy) return;
    busy = true;
    void (async () => {
      let made: LinkToCopy;
      try {
        made = typeof link === 'string' ? { url: link } : await link();
      } catch (error) {
        const text = options.describeError?.(error) ?? (error instanceof Error ? error.message : String(error));
        note.dataset.kind = 'error';
        note.textContent = text;
        announce(text);
        return;
      } finally {
        busy = false;
      }
      delete note.dataset.kind;
      if (await copy(made.url)) {
        note.textContent = made.copied ?? 'Link copied';
        announce(`${made.copied ?? 'Link copied'} to the clipboard`);
        return;
      }
      const field = h('input', { type: 'text', readonly: true, value: made.url, 'aria-label': options.name ? `Link to ${options.name}` : 'Download link', class: 'link-field' });
      note.replaceChildren(field, ' Press Ctrl+C (⌘C) to copy');
      field.focus();
      field.select();
    })();
  });
  return h('span', { class: 'copy-link' }, button, note);
}

async function copy(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // permission denied or no user activation
  }
}
