import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<typeof tf> | undefined;

/** TensorFlow.js on its WebAssembly backend (about 4x the pure-JS backend for MLP training here). */
export function tensorflow(): Promise<typeof tf> {
  ready ??= (async () => {
    // tfjs prints a banner suggesting tfjs-node; it is noise for a CLI that has chosen wasm.
    const warn = console.warn;
    console.warn = () => {};
    try {
      if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
      await tf.ready();
    } finally {
      console.warn = warn;
    }
    return tf;
  })();
  return ready;
}
