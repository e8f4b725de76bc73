/**
 * WebGPU for gpu.js under Node. Node has no `navigator.gpu`, so it comes from Dawn's Node binding
 * (the `webgpu` package, a dependency of gpu.js). Dawn needs glibc 2.38 or later and a GPU driver it
 * can reach (Vulkan on Linux); where either is missing, `acquireWebGpu` says why and the callers
 * treat WebGPU as unavailable instead of failing.
 */

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
  device?: string;
}
interface Adapter {
  info?: AdapterInfo;
  requestDevice(descriptor?: unknown): Promise<object>;
}
interface GpuEntry {
  requestAdapter(): Promise<Adapter | null>;
}
interface DawnModule {
  create(flags: string[]): GpuEntry;
  globals: Record<string, unknown>;
}

export type WebGpuStatus = { available: true; adapter: string } | { available: false; reason: string };

let probe: Promise<WebGpuStatus> | undefined;

const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split('\n')[0];

function describe(info: AdapterInfo | undefined): string {
  const parts = [info?.vendor, info?.device, info?.architecture, info?.description].filter((p): p is string => !!p);
  return parts.length > 0 ? [...new Set(parts)].join(', ') : 'an unnamed adapter';
}

async function install(): Promise<WebGpuStatus> {
  const g = globalThis as { navigator?: { gpu?: GpuEntry } };
  if (!g.navigator?.gpu) {
    let dawn: DawnModule;
    try {
      dawn = (await import('webgpu')) as unknown as DawnModule;
    } catch (e) {
      return { available: false, reason: `Dawn (the webgpu package) does not load here: ${firstLine(e)}` };
    }
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    // Node 21+ has a navigator without gpu; Node 20 has none.
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  try {
    const adapter = await g.navigator!.gpu!.requestAdapter();
    if (!adapter)
      return { available: false, reason: 'no WebGPU adapter answered (no GPU, or no Vulkan driver for it)' };
    takeErrorHandlers(Object.getPrototypeOf(adapter) as Adapter);
    return { available: true, adapter: describe(adapter.info) };
  } catch (e) {
    return { available: false, reason: `the WebGPU adapter request failed: ${firstLine(e)}` };
  }
}

/**
 * gpu.js sets `device.onuncapturederror` to a function, which Dawn's Node binding refuses ("invalid
 * value to onuncapturederror", seen on an H100), so no device could be made. Devices get an own
 * property that takes the handler, and the handler is called from the error event Dawn does send.
 */
function takeErrorHandlers(adapterPrototype: Adapter): void {
  const requestDevice = adapterPrototype.requestDevice;
  if ((requestDevice as { vitrine?: boolean }).vitrine) return;
  const patched = async function (this: Adapter, descriptor?: unknown): Promise<object> {
    const device = (await requestDevice.call(this, descriptor)) as {
      onuncapturederror?: ((e: unknown) => void) | null;
      addEventListener?: (type: string, f: (e: unknown) => void) => void;
    };
    Object.defineProperty(device, 'onuncapturederror', { value: null, writable: true, configurable: true });
    try {
      device.addEventListener?.('uncapturederror', (e) => device.onuncapturederror?.(e));
    } catch {
      // Unreported GPU errors then; the automatic choice still checks the kernel's top-K first.
    }
    return device;
  };
  adapterPrototype.requestDevice = Object.assign(patched, { vitrine: true });
}

/**
 * Makes `navigator.gpu` available to gpu.js and says whether an adapter answers. Dawn then lives as
 * long as the process, which must end with process.exit: only webgpu-process.ts makes a webgpu
 * GpuJsKernel, the one caller.
 */
export function acquireWebGpu(): Promise<WebGpuStatus> {
  probe ??= install();
  return probe;
}
