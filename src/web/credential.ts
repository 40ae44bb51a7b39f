// The page's credential (an API key or a grant): taken from the URL fragment (#grant=…), kept only in
// sessionStorage (gone with the tab, never written to localStorage). Pure but for the Storage it is given.

/** Where the credential is kept (sessionStorage). */
export const credentialKey = 'ferry:credential';

/** The fragment parameter an application hands its grant in: https://ferry.example/#grant=<JWT>. */
export const fragmentParam = 'grant';

/** The grant in a fragment ("#grant=…", possibly beside other parameters), or null. */
export function grantFromFragment(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const grant = params.get(fragmentParam)?.trim();
  return grant ? grant : null;
}

/** The fragment without its grant ("" when nothing else was in it), for history.replaceState. */
export function fragmentWithoutGrant(hash: string): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  params.delete(fragmentParam);
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

/** A grant is a JWT (three base64url parts); anything else is taken for an API key. */
export function credentialKind(token: string): 'grant' | 'key' {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) ? 'grant' : 'key';
}

/** The credential in session storage; when storage is refused (privacy settings), in memory for this page. */
export class CredentialStore {
  private memory: string | null = null;

  constructor(private readonly storage: Storage | null) {}

  get(): string | null {
    try {
      return this.storage?.getItem(credentialKey) ?? this.memory;
    } catch {
      return this.memory;
    }
  }

  set(token: string): void {
    this.memory = token;
    try {
      this.storage?.setItem(credentialKey, token);
    } catch {
      // kept in memory only: a reload asks again
    }
  }

  clear(): void {
    this.memory = null;
    try {
      this.storage?.removeItem(credentialKey);
    } catch {
      // nothing stored
    }
  }
}

/** Takes a grant out of the address bar into `store` (so it is neither bookmarked nor shared by copying the URL). */
export function adoptFragmentGrant(store: CredentialStore, location: Location, history: History): boolean {
  const grant = grantFromFragment(location.hash);
  if (!grant) return false;
  store.set(grant);
  const url = location.pathname + location.search + fragmentWithoutGrant(location.hash);
  history.replaceState(history.state, '', url);
  return true;
}
