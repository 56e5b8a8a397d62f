import type { Profile } from './profiles.js';

/** ApparmorFacts are the host facts AppArmor handling reads. */
export interface ApparmorFacts {
  apparmorEnabled: boolean;
  apparmorDefaultProfile?: string;
}

/**
 * apparmorFor gives `process.apparmorProfile` (undefined = none). Privileged and Unconfined get none. Where the
 * kernel has AppArmor off, a confining request is ignored with a warning (as containerd does); RuntimeDefault
 * uses the profile services/ loaded, and without one it is ignored with a warning too.
 */
export function apparmorFor(profile: Profile, privileged: boolean, host: ApparmorFacts, warn: (msg: string) => void): string | undefined {
  if (privileged || profile.kind === 'Unconfined') return undefined;
  if (!host.apparmorEnabled) {
    warn(`AppArmor is not enabled on this host; ignoring the ${profile.kind === 'Localhost' ? `localhost/${profile.ref}` : 'runtime/default'} AppArmor profile`);
    return undefined;
  }
  if (profile.kind === 'Localhost') return profile.ref;
  if (!host.apparmorDefaultProfile) {
    warn('no default AppArmor profile is loaded; running without AppArmor confinement');
    return undefined;
  }
  return host.apparmorDefaultProfile;
}
