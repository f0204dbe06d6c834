/** drctl's own version, recorded in every manifest. */
export const DRCTL_VERSION = "0.1.0";
