// Exec liveness probes as the kubelet runs them: prober/prober.go runProbeWithRetries (a probe that errors is tried
// up to maxProbeRetries = 3 times), probe/exec/exec.go (an exit code decides; a timeout is a Failure with
// ExecProbeTimeout, and an error, i.e. Unknown, without it), through RunInContainer's ExecSync with the probe's
// timeoutSeconds; prober/worker.go doProbe (an errored probe is thrown away; failureThreshold consecutive failures
// set the liveness result to Failure, which makes SyncPod kill and restart the container).
import { codeOf } from './cri.js';
import { grpc } from '../helpers/daemon.js';
import type { Kubelet } from './kubelet.js';
import type { Probe } from './pod.js';

/** ProbeOutcome is one probe run: the result, its output, and the error that made it Unknown. */
export interface ProbeOutcome {
  result: 'Success' | 'Failure' | 'Unknown';
  output: string;
  error?: string;
  /** attempts is how many ExecSync calls runProbeWithRetries made. */
  attempts: number;
}

/** MAX_PROBE_RETRIES is prober.go maxProbeRetries. */
const MAX_PROBE_RETRIES = 3;

/** runExecProbe is one prober.probe of an exec probe, with its retries on error. */
export async function runExecProbe(k: Kubelet, probe: Probe, containerId: string): Promise<ProbeOutcome> {
  let last: ProbeOutcome = { result: 'Unknown', output: '', attempts: 0 };
  for (let i = 1; i <= MAX_PROBE_RETRIES; i++) {
    try {
      const r = await k.cri.execSync(containerId, probe.exec.command, probe.timeoutSeconds);
      const output = Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString().slice(0, 10 * 1024);
      return { result: Number(r.exit_code) === 0 ? 'Success' : 'Failure', output, attempts: i };
    } catch (e) {
      if (codeOf(e) === grpc.status.DEADLINE_EXCEEDED) {
        const timeout = `command ${JSON.stringify(probe.exec.command.join(' '))} timed out`;
        // exec.NewTimeoutError: a Failure with ExecProbeTimeout; without it "timed out ... but ExecProbeTimeout feature gate was disabled".
        if (k.node.execProbeTimeout) return { result: 'Failure', output: timeout, attempts: i };
        last = { result: 'Unknown', output: '', error: timeout, attempts: i };
      } else {
        last = { result: 'Unknown', output: '', error: (e as Error).message, attempts: i };
      }
    }
  }
  return last;
}

/** LivenessWorker is prober/worker.go for one container's liveness probe. */
export class LivenessWorker {
  private lastResult: 'Success' | 'Failure' = 'Success';
  private resultRun = 0;
  /** onHold: after a Failure was set the worker stops probing until a new container appears. */
  onHold = false;
  readonly outcomes: ProbeOutcome[] = [];

  constructor(private readonly k: Kubelet, private readonly probe: Probe, readonly containerId: string) {
    k.liveness.set(containerId, 'Success');
  }

  /** doProbe runs one probe; it gives the liveness result the kubelet holds afterwards. */
  async doProbe(): Promise<'Success' | 'Failure'> {
    if (this.onHold) return this.k.liveness.get(this.containerId) ?? 'Success';
    const o = await runExecProbe(this.k, this.probe, this.containerId);
    this.outcomes.push(o);
    // "Prober error, throw away the result."
    if (o.error !== undefined) return this.k.liveness.get(this.containerId) ?? 'Success';
    const result = o.result === 'Success' ? 'Success' : 'Failure';
    if (result === this.lastResult) this.resultRun++;
    else {
      this.lastResult = result;
      this.resultRun = 1;
    }
    if (result === 'Failure' && this.resultRun < this.probe.failureThreshold) return this.k.liveness.get(this.containerId) ?? 'Success';
    this.k.liveness.set(this.containerId, result);
    if (result === 'Failure') {
      this.onHold = true;
      this.resultRun = 0;
    }
    return result;
  }
}
