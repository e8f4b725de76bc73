import onnxProto from 'onnx-proto';
import { zeroSubnormals } from './subnormals.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** Small builders over onnx-proto, so graphs read as lists of nodes. */
export type NodeProto = InstanceType<typeof onnx.NodeProto>;
export type TensorProto = InstanceType<typeof onnx.TensorProto>;
export type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

/** A float initializer; its subnormal values are written as zero (see subnormals.ts). */
export function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  const copy = Float32Array.from(data);
  zeroSubnormals(copy);
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(copy.buffer) });
}

/** A float tensor's name and shape; string dims are symbolic (batch sizes). */
export function floatInput(name: string, dims: (number | string)[]): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export function op(
  opType: string,
  inputs: string[],
  outputs: string[],
  domain = '',
  attributes: { name: string; i: number }[] = [],
): NodeProto {
  const attribute = attributes.map((a) =>
    onnx.AttributeProto.create({ name: a.name, i: a.i, type: onnx.AttributeProto.AttributeType.INT }),
  );
  return onnx.NodeProto.create({
    opType,
    domain,
    name: `${opType}_${outputs[0]}`,
    input: inputs,
    output: outputs,
    attribute,
  });
}

/** A tensor input of another element type (e.g. int64 for TopK's k). */
export function typedInput(name: string, dims: (number | string)[], elemType: 'int64'): ValueInfoProto {
  const type = { int64: onnx.TensorProto.DataType.INT64 }[elemType];
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: type,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export interface GraphSpec {
  name: string;
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
  doc?: string;
  /** Opset of com.microsoft contrib ops, when the graph uses them. */
  microsoftOpset?: number;
}

export function encodeModel(g: GraphSpec): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: g.name,
    node: g.nodes,
    initializer: g.initializers ?? [],
    input: g.inputs,
    output: g.outputs,
    docString: g.doc ?? '',
  });
  const opsetImport = [{ domain: '', version: 17 }];
  if (g.microsoftOpset !== undefined) opsetImport.push({ domain: 'com.microsoft', version: g.microsoftOpset });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport,
    producerName: 'vitrine',
    producerVersion: '1',
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
