// Signing in and out: asks for an API key or a grant when the server wants one, says who is signed in
// (and until when), and asks again, saying why, whenever the server answers 401.
import { accessOf, type Access } from './access.js';
import type { CredentialStore } from './credential.js';
import { describeFailure, describeSignIn, needsSignIn } from './describe.js';
import { announce, byId } from './dom.js';
import { formatDate } from './format.js';
import type { PageApi, Whoami } from './server-api.js';

export type SignInState = 'unknown' | 'open' | 'signed-in' | 'signed-out';

export interface SignInEvents {
  /** The person signed in with the form (the first look at the server is start()'s result instead). */
  signedIn(access: Access): void;
}

export class SignIn {
  private who: Whoami | null = null;
  private state: SignInState = 'unknown';
  /** A credential just refused, while the server is asked whether it needs one at all. */
  private refused: { error: unknown; wasIn: boolean } | null = null;
  private readonly section = byId('sign-in');
  private readonly form = byId<HTMLFormElement>('sign-in-form');
  private readonly input = byId<HTMLInputElement>('credential-input');
  private readonly message = byId('sign-in-message');
  private readonly account = byId('account');
  private readonly accountText = byId('account-text');
  private readonly workspace = byId('workspace');

  constructor(
    private readonly api: PageApi,
    private readonly store: CredentialStore,
    private readonly events: SignInEvents,
  ) {
    this.form.addEventListener('submit', (e) => {
      e.preventDefault(); // the page's CSP allows no form submission; the key never goes in a URL
      void this.submit();
    });
    byId('sign-out').addEventListener('click', () => {
      this.store.clear();
      // A fresh page: nothing of the signed-out identity's (uploads, files, links) stays on screen.
      window.location.reload();
    });
  }

  /** What the current credential allows (everything, on an open server). */
  access(): Access {
    return accessOf(this.who, this.store.get());
  }

  /** The first look: true when the page may go on (open server, or a credential the server accepts). */
  start(): Promise<boolean> {
    return this.check();
  }

  /**
   * A 401 from a request made with `used` (the credential it carried): that credential is missing,
   * wrong or expired, so it is forgotten and the form asks again. An answer to a credential already
   * replaced (a request still in flight when the person signed in anew) changes nothing.
   */
  lost(error: unknown, used: string | null): void {
    if (used !== this.store.get()) return;
    const wasIn = this.state === 'signed-in' || this.state === 'open';
    this.store.clear();
    this.who = null;
    if (used !== null) {
      // Without the refused credential the server may need none (open mode): ask it before asking the
      // person. If it does need one, its 401 comes back here (with no credential) and the form says why.
      this.refused = { error, wasIn };
      void this.check().then((ok) => ok && this.events.signedIn(this.access()));
      return;
    }
    const why = this.refused ?? { error, wasIn };
    this.refused = null;
    this.setState('signed-out');
    const text = describeSignIn(why.error);
    this.message.textContent = text;
    this.message.dataset.kind = text ? 'error' : 'info';
    if (why.wasIn && text) announce(text);
    this.input.value = '';
    this.input.focus();
  }

  private async submit(): Promise<void> {
    const token = this.input.value.trim();
    if (!token) {
      this.message.textContent = 'Enter an API key or a grant.';
      this.message.dataset.kind = 'error';
      this.input.focus();
      return;
    }
    this.store.set(token);
    if (!(await this.check(true))) return; // lost() (or check) has said why
    this.input.value = '';
    this.message.textContent = '';
    announce(this.accountText.textContent ?? 'Signed in');
    this.events.signedIn(this.access());
    byId('choose-files').focus();
  }

  /** Asks the server who the credential stands for; `fromForm`: a credential just typed in. */
  private async check(fromForm = false): Promise<boolean> {
    try {
      this.who = await this.api.whoami();
    } catch (e) {
      if (needsSignIn(e)) return false; // lost() ran (PageApi hands every 401 to it)
      this.who = null;
      if (fromForm) {
        // Not known to work: not kept, and the person tries again when the server answers.
        this.store.clear();
        this.message.textContent = `Could not check the key. ${describeFailure(e)}`;
        this.message.dataset.kind = 'error';
        return false;
      }
      // Unreachable on the first look: go on as before; the file list says what is wrong.
    }
    const signedIn = this.who ? this.who.via !== 'open' : this.store.get() !== null;
    this.setState(signedIn ? 'signed-in' : 'open');
    return true;
  }

  private setState(state: SignInState): void {
    this.state = state;
    document.body.dataset.auth = state;
    this.section.hidden = state !== 'signed-out';
    this.workspace.hidden = state === 'signed-out';
    this.account.hidden = state !== 'signed-in';
    if (state === 'signed-in') this.accountText.textContent = this.who ? describeAccount(this.who) : 'Signed in';
  }
}

/** "Signed in as alice · access until 3 Dec 2026, 15:10"; keys say so instead of an expiry. */
export function describeAccount(who: Whoami, locale?: string): string {
  const role = who.role === 'admin' ? ' (admin)' : '';
  const how = who.via === 'key' ? ' with an API key' : who.expiresAt ? ` · access until ${formatDate(who.expiresAt, locale)}` : '';
  return `Signed in as ${who.identity}${role}${how}`;
}
