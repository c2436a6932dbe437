// three.js's GLTFLoader on one .glb, in Node (no browser: the file has no textures to decode),
// and three.js's own morph + skinning maths (SkinnedMesh.getVertexPosition) after its
// AnimationMixer has set the clip to each requested time. Prints JSON on stdout:
// {meshes: [{name, type, morphTargets, bones}], clips: [{name, duration, tracks}],
//  positions: {time: [[x, y, z], ...]}} (the skinned mesh's vertices, world space).
// Usage: node three_eval.mjs FILE.glb [TIME ...]
import { readFile } from "node:fs/promises";
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

const [path, ...times] = process.argv.slice(2);
const bytes = await readFile(path);
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const gltf = await new Promise((resolve, reject) => new GLTFLoader().parse(buffer, "", resolve, reject));

const meshes = [];
gltf.scene.traverse((object) => {
  if (object.isMesh || object.isPoints) {
    meshes.push({
      name: object.name,
      type: object.type,
      count: object.geometry.attributes.position.count,
      morphTargets: Object.keys(object.morphTargetDictionary || {}),
      bones: object.isSkinnedMesh ? object.skeleton.bones.map((bone) => bone.name) : null,
    });
  }
});
const clips = gltf.animations.map((clip) => ({
  name: clip.name, duration: clip.duration, tracks: clip.tracks.map((track) => track.name),
}));

const positions = {};
const skinned = [];
gltf.scene.traverse((object) => { if (object.isSkinnedMesh) skinned.push(object); });
if (times.length && skinned.length) {
  const mixer = new THREE.AnimationMixer(gltf.scene);
  if (gltf.animations.length) {
    // played once and held: looping would wrap the clip's last key (time = duration) to its first
    const action = mixer.clipAction(gltf.animations[0]);
    action.setLoop(THREE.LoopOnce, 1);
    action.clampWhenFinished = true;
    action.play();
  }
  const vertex = new THREE.Vector3();
  for (const time of times) {
    mixer.setTime(Number(time));
    gltf.scene.updateMatrixWorld(true);
    const mesh = skinned[0];
    const rows = [];
    for (let i = 0; i < mesh.geometry.attributes.position.count; i++) {
      mesh.getVertexPosition(i, vertex);  // morphed, then skinned (bind matrix included)
      vertex.applyMatrix4(mesh.matrixWorld);
      rows.push([vertex.x, vertex.y, vertex.z]);
    }
    positions[time] = rows;
  }
}
console.log(JSON.stringify({ meshes, clips, positions }));
