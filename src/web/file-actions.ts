// A file's links and buttons, as the credential allows: Download (a link cannot send a header, so a
// signed-in click fetches a short-lived download link; the credential itself never goes into a URL),
// Copy link / Copy share link, and Delete (confirmed first). Used by the upload rows and the file list alike.
import { FerryError } from '../protocol/index.js';
import { mayDownload, type Access } from './access.js';
import { copyLinkButton } from './copy-link.js';
import { describeFileProblem } from './describe.js';
import { announce, h } from './dom.js';
import { formatDate } from './format.js';
import type { PageApi } from './server-api.js';

export interface FileRef {
  fileId: string;
  /** The file's own URL (no credential in it). */
  fileUrl: string;
  name: string;
}

/** How long the link behind a signed-in Download click lasts: long enough to start, not to pass on (the server's cap). */
export const downloadLinkSeconds = 300;

export class FileActions {
  constructor(
    private readonly api: PageApi,
    private readonly access: () => Access,
  ) {}

  /** The Download link (null when the credential may not read the file). */
  downloadLink(file: FileRef, text: string, cls: string): HTMLAnchorElement | null {
    const access = this.access();
    if (!mayDownload(access, file.fileId)) return null;
    const link = h('a', { href: file.fileUrl, class: cls, download: file.name }, text);
    if (text !== file.name) link.setAttribute('aria-label', `${text} ${file.name}`);
    if (access.via !== 'open') {
      link.addEventListener('click', (e) => {
        e.preventDefault();
        void this.api.shareFile(file.fileId, downloadLinkSeconds).then(
          (share) => {
            // A link of its own, clicked: the browser downloads it as it would the file's link.
            const go = h('a', { href: share.url, download: file.name, hidden: true });
            document.body.append(go);
            go.click();
            go.remove();
          },
          (error: unknown) => announce(describeFileProblem(error, `download ${file.name}`)),
        );
      });
    }
    return link;
  }

  /**
   * "Copy link" on an open server (the file's URL works for anyone who has it); else "Copy share link",
   * a link the server signs, working without a credential until it expires. Null when not allowed.
   */
  copyButton(file: FileRef): HTMLElement | null {
    const access = this.access();
    if (access.via === 'open') return copyLinkButton(file.fileUrl, { name: file.name });
    if (!access.changeFiles) return null;
    return copyLinkButton(
      async () => {
        const share = await this.api.shareFile(file.fileId);
        return { url: share.url, copied: `Share link copied (works until ${formatDate(share.expiresAt)})` };
      },
      { label: 'Copy share link', name: file.name, describeError: (e) => describeFileProblem(e, 'make a share link') },
    );
  }

  /** Delete, after the person confirms; `deleted` runs once the server has removed it (or had already). Null when not allowed. */
  deleteButton(file: FileRef, deleted: () => void, failed: (text: string) => void): HTMLButtonElement | null {
    if (!this.access().changeFiles) return null;
    const button = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${file.name}` }, 'Delete');
    let busy = false;
    button.addEventListener('click', () => {
      if (busy) return;
      if (!window.confirm(`Delete “${file.name}” from the server? Its links stop working. This cannot be undone.`)) return;
      busy = true;
      this.api.deleteFile(file.fileId).then(
        () => {
          announce(`Deleted ${file.name}`);
          deleted();
        },
        (error: unknown) => {
          busy = false;
          if (error instanceof FerryError && error.code === 'file-not-found') {
            announce(`${file.name} was already deleted`);
            deleted();
            return;
          }
          const text = describeFileProblem(error, `delete ${file.name}`);
          failed(text);
          announce(text);
        },
      );
    });
    return button;
  }
}
