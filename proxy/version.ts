// The runtime version, alone in its module so `bulwark --help` and `version` load nothing else.
export const RUNTIME_VERSION = '0.1.0';
