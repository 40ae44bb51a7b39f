// The page: sign in when the server wants it, choose or drop files, watch them upload, resume
// unfinished ones, list (and delete or share) the signed-in identity's files.
import './zod-jitless.js';
import type { Access } from './access.js';
import { adoptFragmentGrant, CredentialStore } from './credential.js';
import { UploadBoard } from './batch.js';
import { byId } from './dom.js';
import { FileActions } from './file-actions.js';
import { FilesList } from './files-list.js';
import { Intake } from './intake.js';
import { onFilesChosen } from './picker.js';
import { PageApi } from './server-api.js';
import { readSettings } from './settings.js';
import { SignIn } from './sign-in.js';
import { UnfinishedList } from './unfinished.js';
import { UploadTask, type TaskHooks } from './upload-task.js';
import { createWorkerHasher } from './worker-hasher.js';

const settings = readSettings(window.location);
const credential = new CredentialStore(sessionStorageOrNull());
// An application hands its page a grant as https://ferry.example/#grant=<JWT>: taken, then removed
// from the address bar (a fragment is never sent to a server, so it is in no log either).
adoptFragmentGrant(credential, window.location, window.history);

const api = new PageApi(settings.server, { credential: () => credential.get(), onUnauthorized: (e, used) => signIn.lost(e, used) });
const signIn: SignIn = new SignIn(api, credential, { signedIn: (access) => void showWorkspace(access) });
const access = () => signIn.access();
const actions = new FileActions(api, access);
const hasher = createWorkerHasher(new URL('worker.js', settings.server));
const files = new FilesList(api, actions, access);
const unfinished = new UnfinishedList(api, settings.server, () => credential.get() !== null);
// The rows, their order, the batch actions and the overall bar.
const board = new UploadBoard();

const hooks: TaskHooks = {
  started: (_task, uploadId) => unfinished.forget(uploadId),
  changed: (task) => board.update(task),
  finished: () => void files.refresh(),
  dismissed: (task) => board.remove(task),
  reconnected: () => files.reconnected(),
  headers: () => api.authHeaders(),
  links: (file) => {
    const download = actions.downloadLink(file, 'Download', 'download');
    const copy = actions.copyButton(file);
    return [download, copy].filter((n): n is HTMLElement => n !== null);
  },
  unauthorized: (error, sent) => signIn.lost(error, sent.authorization?.replace(/^Bearer /, '') ?? null),
};

// Chosen, dropped or pasted files: repeats, odd names, folders and review are the intake's (intake.ts).
const intake: Intake = new Intake({
  start: (file, details) => {
    const task = new UploadTask(file, settings, hasher, intakeHooks, details);
    board.add(task);
    task.start();
    return task;
  },
  links: (file) => hooks.links(file),
});
const intakeHooks = intake.track(hooks);
onFilesChosen((picked) => intake.receive(picked));

// The engine retries on its own; this only tells the person why nothing moves meanwhile.
const offline = byId('offline');
const showOnline = () => {
  offline.hidden = navigator.onLine;
};
window.addEventListener('online', showOnline);
window.addEventListener('offline', showOnline);
showOnline();

/** Signed in (or an open server): what this credential may do is shown, and the server asked for it. */
function showWorkspace(can: Access): Promise<unknown> {
  byId('drop-zone').hidden = !can.upload;
  // Unfinished uploads only for a credential that may upload: for any other, every one is "not found".
  return Promise.allSettled([files.refresh(), can.upload ? unfinished.load() : undefined]);
}

void signIn
  .start()
  .then((ok) => (ok ? showWorkspace(access()) : undefined))
  .finally(() => {
    // For tests and scripts: the page has finished its first look at the server.
    document.body.dataset.ready = 'true';
  });

/** Session storage, unless the browser refuses it (then the credential lives only as long as the page). */
function sessionStorageOrNull(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}
