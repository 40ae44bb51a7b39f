// "Copy link" buttons: the clipboard API where the page may use it, else the link is selected in a
// text field for the person to copy (plain-HTTP pages on another host get no clipboard API).
import { announce, h } from './dom.js';

/** A button that copies `url`; the result is said next to it and through the live region. */
export function copyLinkButton(url: string, label = 'Copy link'): HTMLElement {
  const note = h('span', { class: 'copy-note', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', () => {
    void copy(url).then((copied) => {
      if (copied) {
        note.textContent = 'Link copied';
        announce('Link copied to the clipboard');
        return;
      }
      const field = h('input', { type: 'text', readonly: true, value: url, 'aria-label': 'Download link', class: 'link-field' });
      note.replaceChildren(field, ' Press Ctrl+C (⌘C) to copy');
      field.focus();
      field.select();
    });
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
