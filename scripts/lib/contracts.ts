export { registryInit, providerStakeInit, providerEnclave } from '../../wrappers';
