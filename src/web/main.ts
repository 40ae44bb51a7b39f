// The page: choose or drop files, watch them upload, resume unfinished ones, list the server's files.
import './zod-jitless.js';
import { announce, byId } from './dom.js';
import { FilesList } from './files-list.js';
import { OverallProgress } from './overall.js';
import { onFilesChosen } from './picker.js';
import { PageApi } from './server-api.js';
import { readSettings } from './settings.js';
import { UnfinishedList } from './unfinished.js';
import { UploadTask, type TaskHooks } from './upload-task.js';
import { createWorkerHasher } from './worker-hasher.js';

const settings = readSettings(window.location);
const api = new PageApi(settings.server);
const hasher = createWorkerHasher(new URL('worker.js', settings.server));
const uploads = byId('uploads-list');
const files = new FilesList(api);
const unfinished = new UnfinishedList(api, settings.server);
const overall = new OverallProgress();

const hooks: TaskHooks = {
  started: (_task, uploadId) => unfinished.forget(uploadId),
  changed: () => overall.update(),
  finished: () => void files.refresh(),
  dismissed: (task) => {
    task.view.element.remove();
    overall.remove(task);
    byId('uploads').hidden = uploads.childElementCount === 0;
  },
};

onFilesChosen((chosen) => {
  byId('uploads').hidden = false;
  for (const file of chosen) {
    const task = new UploadTask(file, settings, hasher, hooks);
    uploads.prepend(task.view.element);
    overall.add(task);
    task.start();
  }
  announce(chosen.length === 1 ? `Uploading ${chosen[0]!.name}` : `Uploading ${chosen.length} files`);
});

// The engine retries on its own; this only tells the person why nothing moves meanwhile.
const offline = byId('offline');
const showOnline = () => {
  offline.hidden = navigator.onLine;
};
window.addEventListener('online', showOnline);
window.addEventListener('offline', showOnline);
showOnline();

void Promise.allSettled([files.refresh(), unfinished.load()]).then(() => {
  // For tests and scripts: the page has finished its first look at the server.
  document.body.dataset.ready = 'true';
});
