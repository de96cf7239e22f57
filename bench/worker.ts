// The worker agent's figures (notice to hand-back, jobs per second) against moto: see worker/bench.ts.
import '../worker/bench';
