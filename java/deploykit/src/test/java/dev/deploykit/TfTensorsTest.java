package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;

/** The dtype mapping both ways, without a test export. */
class TfTensorsTest {
  @Test
  void everyDtypeMapsToATensorFlowDtypeAndBack() {
    for (DType d : DType.values()) {
      assertEquals(d, TfTensors.fromDataType(TfTensors.dataType(d)), d.toString());
    }
  }

  @Test
  void tensorFlowDtypesWithoutAContractDtypeMapToNull() {
    assertNull(TfTensors.fromDataType(DataType.DT_DOUBLE));
    assertNull(TfTensors.fromDataType(DataType.DT_STRING));
  }
}
