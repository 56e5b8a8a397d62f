/**
 * oci/ turns CRI configs into OCI runtime specs: pure and synchronous, no host access. services/ gathers
 * HostFacts, SandboxFacts, the image config and its /etc/passwd and /etc/group beforehand.
 */
export { buildContainerSpec, OCI_VERSION, type Warn } from './build-container-spec.js';
export { buildSandboxSpec, DEFAULT_INFRA_ARGS, INFRA_OOM_SCORE_ADJ } from './build-sandbox-spec.js';
export { capabilitiesFromMask, CAPABILITY_NAMES, DEFAULT_CAPABILITIES, normalizeCapability } from './capabilities.js';
export { execProcess } from './exec.js';
export { parseGroup, parsePasswd } from './passwd.js';
export { runtimeDefaultProfile } from './seccomp-default.js';
export { localhostSeccompPath } from './opts/profiles.js';
export { parseSeccompProfile } from './opts/seccomp.js';
export { DELEGATION_FIX, MIN_MEMORY_LIMIT, oomScoreAdj, resourcesToOci, validateContainerResources, type ResourceHostFacts } from './opts/resources.js';
export { deviceBindMounts } from './opts/devices.js';
export { podSysctls, validSysctlName } from './opts/sysctls.js';
export { containerLogPath, hasControlChar, validateContainerFields } from './fields.js';
export { HOST_NAME_MAX, checkHostname, podFileValue, podHostname, validatePodFields } from './pod-fields.js';
export { validateCriMounts } from './opts/mounts.js';
export { namespaceModes, podIdMappings, rootOnHost, validateUserNamespace, type PodIdMappings } from './opts/namespaces.js';
export { cleanPath } from './opts/mounts.js';
export { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './opts/security.js';
export { parseCpuset, formatCpuset, CpusetError } from '../domain/cpuset.js';
export type * from './input.js';
export type * from './spec.js';
