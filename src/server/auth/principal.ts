// Who is asking: the identity a credential stands for, and how it was shown.
import type { Grant } from '../../grants/index.js';
import type { Role } from '../../stores/types.js';

export interface Principal {
  identity: string;
  role: Role;
  /** 'open': no credential in open mode; 'key': an API key; 'grant': a signed grant or share link. */
  via: 'open' | 'key' | 'grant';
  /** The grant, when via is 'grant': its scope limits what the identity may do. */
  grant?: Grant;
  keyId?: string;
}

/** Everyone, in open mode: allowed everything, owns what it creates as 'anonymous'. */
export const openPrincipal: Principal = Object.freeze({ identity: 'anonymous', role: 'admin', via: 'open' });
