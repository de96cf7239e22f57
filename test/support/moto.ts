// The moto server launcher lives with `npm run local` (scripts/lib/moto.ts); tests use the same one.
export { freePort, startMoto, VENV_BIN, type MotoServer } from '../../scripts/lib/moto';
